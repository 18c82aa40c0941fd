package streammanager

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoal-live/shoal/internal/agent"
	"github.com/shoal-live/shoal/internal/agentapi"
	"github.com/shoal-live/shoal/internal/provider"
)

// fakeCloud is a provider whose instances are node agents (the real
// internal/agent) running in this process and reporting the load the test
// sets, instead of shoal-node processes. Like the local provider, it stops
// every instance when Run ends.
type fakeCloud struct {
	logger *slog.Logger
	wg     sync.WaitGroup

	mu    sync.Mutex
	seq   int
	insts map[string]*fakeInstance
	// failCreate makes Create fail while set.
	failCreate bool
}

type fakeInstance struct {
	inst   provider.Instance
	node   *fakeNode
	cancel context.CancelFunc
	done   chan struct{}
	dead   bool
}

func newFakeCloud(t *testing.T) *fakeCloud {
	t.Helper()
	c := &fakeCloud{logger: testLogger(t).With("component", "fake_node"), insts: map[string]*fakeInstance{}}
	t.Cleanup(func() { _ = c.close() })
	return c
}

var _ cloud = (*fakeCloud)(nil)

func (c *fakeCloud) Create(ctx context.Context, spec provider.Spec) (provider.Instance, error) {
	if err := ctx.Err(); err != nil {
		return provider.Instance{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failCreate {
		return provider.Instance{}, fmt.Errorf("create fake instance: quota exceeded")
	}
	c.seq++
	id := fmt.Sprintf("fake-%d", c.seq)
	n := &fakeNode{role: spec.Role}
	a := agent.New(agent.Config{
		ManagerURL: spec.ManagerURL, Secret: spec.Secret, NodeID: spec.NodeID, Role: spec.Role, Group: spec.Group,
		Host: "127.0.0.1", RTMPPort: 20000 + c.seq, HTTPPort: 30000 + c.seq,
		RetryMin: 50 * time.Millisecond, RetryMax: 500 * time.Millisecond,
	}, n, c.logger.With("node_id", spec.NodeID))
	actx, cancel := context.WithCancel(context.Background())
	fi := &fakeInstance{
		inst:   provider.Instance{ID: id, Spec: spec, Address: "127.0.0.1", CreatedAt: time.Now()},
		node:   n,
		cancel: cancel,
		done:   make(chan struct{}),
	}
	c.wg.Go(func() {
		defer close(fi.done)
		_ = a.Run(actx) // always nil
	})
	c.insts[id] = fi
	return c.instanceLocked(fi), nil
}

func (c *fakeCloud) instanceLocked(fi *fakeInstance) provider.Instance {
	inst := fi.inst
	inst.State = provider.StateRunning
	if fi.dead {
		inst.State = provider.StateTerminated
	}
	return inst
}

func (c *fakeCloud) Delete(_ context.Context, id string) error {
	c.mu.Lock()
	fi, ok := c.insts[id]
	delete(c.insts, id)
	c.mu.Unlock()
	if !ok {
		return fmt.Errorf("delete fake instance %s: %w", id, provider.ErrNotFound)
	}
	fi.cancel()
	<-fi.done
	return nil
}

func (c *fakeCloud) Get(_ context.Context, id string) (provider.Instance, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fi, ok := c.insts[id]
	if !ok {
		return provider.Instance{}, fmt.Errorf("get fake instance %s: %w", id, provider.ErrNotFound)
	}
	return c.instanceLocked(fi), nil
}

func (c *fakeCloud) List(context.Context) ([]provider.Instance, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []provider.Instance
	for _, id := range slices.Sorted(maps.Keys(c.insts)) {
		out = append(out, c.instanceLocked(c.insts[id]))
	}
	return out, nil
}

func (c *fakeCloud) UpdateMetadata(context.Context, string, map[string]string) error { return nil }

func (c *fakeCloud) Run(ctx context.Context) error {
	<-ctx.Done()
	return c.close()
}

// close stops every instance, as the local provider does.
func (c *fakeCloud) close() error {
	c.mu.Lock()
	insts := slices.Collect(maps.Values(c.insts))
	clear(c.insts)
	c.mu.Unlock()
	for _, fi := range insts {
		fi.cancel()
	}
	c.wg.Wait()
	return nil
}

// kill stops the agent of node, as kill -9 would stop its process: the
// instance stays listed, Terminated.
func (c *fakeCloud) kill(t *testing.T, nodeID string) {
	t.Helper()
	c.mu.Lock()
	var fi *fakeInstance
	for _, x := range c.insts {
		if x.inst.Spec.NodeID == nodeID {
			fi = x
		}
	}
	c.mu.Unlock()
	if fi == nil {
		t.Fatalf("kill %s: no such instance", nodeID)
	}
	fi.cancel()
	<-fi.done
	c.mu.Lock()
	fi.dead = true
	c.mu.Unlock()
}

// node returns the fake node running as nodeID, or nil.
func (c *fakeCloud) node(nodeID string) *fakeNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, fi := range c.insts {
		if fi.inst.Spec.NodeID == nodeID && !fi.dead {
			return fi.node
		}
	}
	return nil
}

// count returns the number of live instances.
func (c *fakeCloud) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, fi := range c.insts {
		if !fi.dead {
			n++
		}
	}
	return n
}

// fakeNode is the load a fake instance reports: subscribers on an edge,
// publishers (and their streams) on an origin.
type fakeNode struct {
	role    string
	clients atomic.Int64

	mu      sync.Mutex
	streams []agentapi.Stream
}

func (n *fakeNode) setLoad(clients int) { n.clients.Store(int64(clients)) }

func (n *fakeNode) publish(scope, name string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.streams = append(n.streams, agentapi.Stream{Scope: scope, Name: name, Publishing: true})
}

func (n *fakeNode) Stats() agent.Stats {
	c := int(n.clients.Load())
	st := agent.Stats{Connections: c}
	if n.role == agentapi.RoleEdge {
		st.Subscribers = c
	} else {
		st.Publishers = c
	}
	n.mu.Lock()
	st.Streams = slices.Clone(n.streams)
	n.mu.Unlock()
	return st
}

// testLogger logs to the test's output.
func testLogger(t *testing.T) *slog.Logger {
	t.Helper()
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}
