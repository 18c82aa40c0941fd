package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shoal-live/shoal/internal/cluster"
)

// faultWriter is a user that writes a new key per write ("<user>.<n>"), so
// that every acknowledged write must still be in the object at the end,
// and that reconnects to another node when its node is gone.
type faultWriter struct {
	t     *testing.T
	u     *user
	nodes func() []*node // where it may connect, in the order it tries them

	mu      sync.Mutex
	acked   []string    // keys of the writes that got Success
	ackedAt []time.Time // when
	n       int
}

func (w *faultWriter) ackedKeys() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.acked)
}

// ackedSince counts the writes acknowledged after t0.
func (w *faultWriter) ackedSince(t0 time.Time) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, at := range w.ackedAt {
		if at.After(t0) {
			n++
		}
	}
	return n
}

// writeOne writes the next key and waits up to timeout for its Success.
func (w *faultWriter) writeOne(ctx context.Context, timeout time.Duration) error {
	w.mu.Lock()
	key := fmt.Sprintf("%s.%04d", w.u.name, w.n)
	w.n++
	w.mu.Unlock()
	if _, err := w.u.write(ctx, []kv{{key, "v"}}, timeout); err != nil {
		return err
	}
	w.mu.Lock()
	w.acked = append(w.acked, key)
	w.ackedAt = append(w.ackedAt, time.Now())
	w.mu.Unlock()
	return nil
}

// run writes until ctx is done. A write without an answer is lost or
// undecided (never counted); if the connection is dead too, the writer
// reconnects.
func (w *faultWriter) run(ctx context.Context, rng *rand.Rand) {
	for ctx.Err() == nil {
		err := w.writeOne(ctx, 3*time.Second)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if w.u.probe(ctx) != nil {
				if err := w.reconnect(ctx); err != nil {
					if ctx.Err() == nil { // else the writer stops; finish reconnects it
						w.t.Errorf("%s: %v", w.u.name, err)
					}
					return
				}
			}
			continue
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(rng.Int64N(int64(100 * time.Millisecond)))):
		}
	}
}

// reconnect connects to the first node that takes the use, and checks
// what the client finds there: its version did not go backwards and every
// write acknowledged to it is in the state.
func (w *faultWriter) reconnect(ctx context.Context) error {
	before := w.u.maxVersion()
	deadline := time.Now().Add(30 * time.Second)
	var errs []error
	for time.Now().Before(deadline) && ctx.Err() == nil {
		for _, n := range w.nodes() {
			cctx, cancel := context.WithTimeout(ctx, 6*time.Second)
			v, data, err := w.u.connect(cctx, n)
			cancel()
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if v < before {
				w.t.Errorf("%s: version went back from %d to %d when it reconnected through %s", w.u.name, before, v, n.id)
			}
			for _, k := range w.ackedKeys() {
				if _, ok := data[k]; !ok {
					w.t.Errorf("%s: acknowledged write %s missing from the state it got through %s", w.u.name, k, n.id)
				}
			}
			return nil
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("reconnect: %w", err)
	}
	return fmt.Errorf("no node took the client back within 30s: %w", errors.Join(errs...))
}

// pauseAround returns how long the writer went without an acknowledged
// write across t0: from its last one before t0 to its first one after.
func (w *faultWriter) pauseAround(t0 time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	i, _ := slices.BinarySearchFunc(w.ackedAt, t0, func(a, b time.Time) int { return a.Compare(b) })
	if i == 0 || i == len(w.ackedAt) {
		return 0
	}
	return w.ackedAt[i].Sub(w.ackedAt[i-1])
}

// faultScenario is a set of writers on nodes, checked at the end.
type faultScenario struct {
	t       *testing.T
	writers []*faultWriter
}

// startWriters connects three users (AMF0, AMF3, WebSocket) per node to
// the object. nodes gives the reconnect order of every writer.
func startWriters(t *testing.T, homes []*node, nodes func(home *node) []*node, scope, obj string, persistent bool) *faultScenario {
	t.Helper()
	sc := &faultScenario{t: t}
	for _, n := range homes {
		for _, k := range []kind{rtmpAMF0, rtmpAMF3, webSocket} {
			u := newUser(fmt.Sprintf("%s-%s", n.id, k), k, scope, obj, persistent)
			if _, _, err := u.connect(t.Context(), n); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(u.close)
			sc.writers = append(sc.writers, &faultWriter{t: t, u: u, nodes: func() []*node { return nodes(n) }})
		}
	}
	return sc
}

// run writes with every writer until ctx is done.
func (sc *faultScenario) run(ctx context.Context) {
	var wg sync.WaitGroup
	seed := uint64(time.Now().UnixNano())
	for i, w := range sc.writers {
		wg.Go(func() { w.run(ctx, rand.New(rand.NewPCG(seed, uint64(i)))) })
	}
	wg.Wait()
}

// runFault writes with every writer, brings fault about after warmup, and
// goes on until every writer has had after more writes acknowledged (the
// writes continue), failing the test if that takes longer than limit. It
// returns when the fault happened and the longest pause in acknowledged
// writes any writer saw across it.
func (sc *faultScenario) runFault(warmup time.Duration, fault func(), after int, limit time.Duration) (time.Time, time.Duration) {
	t := sc.t
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc.run(ctx)
	}()
	select {
	case <-time.After(warmup):
	case <-done:
		t.Fatal("writers stopped before the fault")
	}
	at := time.Now()
	fault()
	deadline := time.Now().Add(limit)
	for {
		behind := ""
		for _, w := range sc.writers {
			if n := w.ackedSince(at); n < after {
				behind = fmt.Sprintf("%s has %d writes acknowledged since the fault, want %d", w.u.name, n, after)
				break
			}
		}
		if behind == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("writes did not continue within %v of the fault: %s", limit, behind)
			break
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-done:
			t.Fatalf("writers stopped: %s", behind)
		}
	}
	cancel()
	<-done
	var pause time.Duration
	for _, w := range sc.writers {
		pause = max(pause, w.pauseAround(at))
	}
	return at, pause
}

// finish makes one more write per writer, which must succeed, waits until
// every client has the last version, and checks that the clients agree
// with each other and with the state a new client reads through check, and
// that no acknowledged write is missing. It returns the state.
func (sc *faultScenario) finish(check *node) map[string]any {
	t := sc.t
	t.Helper()
	for _, w := range sc.writers {
		if w.u.probe(t.Context()) != nil {
			if err := w.reconnect(t.Context()); err != nil {
				t.Fatalf("%s: %v", w.u.name, err)
			}
		}
		if err := w.writeOne(t.Context(), 10*time.Second); err != nil {
			t.Fatalf("%s: write after the fault: %v", w.u.name, err)
		}
	}
	var last uint64
	checkFor(t, 15*time.Second, 50*time.Millisecond, func() error {
		for _, w := range sc.writers {
			last = max(last, w.u.version())
		}
		for _, w := range sc.writers {
			if v := w.u.version(); v != last {
				return fmt.Errorf("%s is at version %d, want %d", w.u.name, v, last)
			}
		}
		return nil
	})
	want := sc.writers[0].u.data()
	for _, w := range sc.writers[1:] {
		if diff := cmp.Diff(want, w.u.data()); diff != "" {
			t.Errorf("%s's copy differs from %s's (-%s +%s):\n%s", w.u.name, sc.writers[0].u.name, sc.writers[0].u.name, w.u.name, diff)
		}
	}
	acked := 0
	for _, w := range sc.writers {
		for _, k := range w.ackedKeys() {
			acked++
			if _, ok := want[k]; !ok {
				t.Errorf("acknowledged write %s is missing", k)
			}
		}
	}
	fresh := newUser("fresh", rtmpAMF3, sc.writers[0].u.scope, sc.writers[0].u.obj, sc.writers[0].u.persistent)
	v, stored := connectRetry(t, fresh, check)
	fresh.close()
	if diff := cmp.Diff(want, stored); diff != "" {
		t.Errorf("clients' copies differ from the state read through %s (-clients +stored):\n%s", check.id, diff)
	}
	if v <= last {
		t.Errorf("a new client used the object at version %d, want above %d", v, last)
	}
	t.Logf("%d writes acknowledged, %d keys stored, version %d", acked, len(want), last)
	return want
}

// connectRetry connects u to n, trying again for 30 s: right after a
// fault, JetStream may still be electing the leaders of the streams a use
// needs, and an RTMP client gets no answer to a use that failed.
func connectRetry(t *testing.T, u *user, n *node) (uint64, map[string]any) {
	t.Helper()
	var v uint64
	var data map[string]any
	checkFor(t, 30*time.Second, 100*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(t.Context(), 6*time.Second)
		defer cancel()
		var err error
		v, data, err = u.connect(ctx, n)
		return err
	})
	return v, data
}

func TestClusterNodeCrash(t *testing.T) {
	env := []string{"SHOAL_NODE_SHARED_OBJECTS_MAX_ATTRIBUTES=100000"}
	a := startNode(t, nodeConfig{id: "node-a", env: env}) // runs NATS
	b := startNode(t, nodeConfig{id: "node-b", natsURL: a.natsURL, env: env})
	c := startNode(t, nodeConfig{id: "node-c", natsURL: a.natsURL, env: env})
	all := []*node{a, b, c}
	// Clients try their own node first, then the others.
	order := func(home *node) []*node {
		out := []*node{home}
		for _, n := range all {
			if n != home {
				out = append(out, n)
			}
		}
		return out
	}
	sc := startWriters(t, all, order, "e2e/crash", "ledger", false)
	_, pause := sc.runFault(2*time.Second, func() { c.kill(t) }, 5, 20*time.Second)
	t.Logf("longest pause in acknowledged writes across the crash: %v", pause.Round(time.Millisecond))
	if t.Failed() {
		t.FailNow()
	}
	for _, w := range sc.writers {
		conns := w.u.connects()
		if w.u.node() == c || (conns[0] == c.id) != (len(conns) > 1) {
			t.Errorf("%s connected to %v: want clients of node-c, and only those, to have moved to another node", w.u.name, conns)
		}
	}
	d := startNode(t, nodeConfig{id: "node-d", natsURL: a.natsURL, env: env})
	sc.finish(d)
}

// streamLeader returns the NATS server leading the persistent stream.
func streamLeader(t *testing.T, servers []*natsServer) *natsServer {
	t.Helper()
	nc, err := nats.Connect(clientURLs(servers), nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatalf("connect to nats: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var leader string
	checkFor(t, 10*time.Second, 100*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		s, err := js.Stream(ctx, cluster.PersistentStream)
		if err != nil {
			return err
		}
		info, err := s.Info(ctx)
		if err != nil {
			return err
		}
		if info.Cluster == nil || info.Cluster.Leader == "" {
			return errors.New("stream has no leader")
		}
		if len(info.Cluster.Replicas) != len(servers)-1 {
			return fmt.Errorf("stream has %d replicas besides the leader, want %d", len(info.Cluster.Replicas), len(servers)-1)
		}
		leader = info.Cluster.Leader
		return nil
	})
	for _, s := range servers {
		if s.name == leader {
			return s
		}
	}
	t.Fatalf("stream leader %q is none of the servers", leader)
	return nil
}

// startOnNATSCluster starts three `shoal nats` servers and two nodes that
// join them with three replicas.
func startOnNATSCluster(t *testing.T, env ...string) ([]*natsServer, []nodeConfig, []*node) {
	t.Helper()
	servers := startNATSCluster(t, 3)
	env = append(env, "SHOAL_NODE_CLUSTER_REPLICAS=3", "SHOAL_NODE_SHARED_OBJECTS_MAX_ATTRIBUTES=100000")
	cfgs := []nodeConfig{
		{id: "node-a", natsURL: clientURLs(servers), dataDir: t.TempDir(), env: env},
		{id: "node-b", natsURL: clientURLs(servers), dataDir: t.TempDir(), env: env},
	}
	nodes := make([]*node, len(cfgs))
	for i, cfg := range cfgs {
		nodes[i] = startNode(t, cfg)
	}
	return servers, cfgs, nodes
}

func TestClusterNATSServerLoss(t *testing.T) {
	servers, _, nodes := startOnNATSCluster(t)
	home := func(n *node) []*node { return []*node{n} } // nodes stay up
	sc := startWriters(t, nodes, home, "e2e/natsloss", "ledger", true)
	leader := streamLeader(t, servers)
	// kill -9 the server leading the stream, during writes.
	_, pause := sc.runFault(2*time.Second, func() { leader.kill(t) }, 5, 30*time.Second)
	t.Logf("killed %s, the stream leader; longest pause in acknowledged writes: %v", leader.name, pause.Round(time.Millisecond))
	if t.Failed() {
		t.FailNow()
	}
	for _, w := range sc.writers {
		if conns := w.u.connects(); len(conns) != 1 {
			t.Errorf("%s reconnected (%v); its node never went away", w.u.name, conns)
		}
	}
	sc.finish(nodes[1])
}

func TestClusterFullRestart(t *testing.T) {
	// Snapshots every 50 batches: the restarted nodes read snapshots and
	// the batches after them from the servers' files.
	servers, cfgs, nodes := startOnNATSCluster(t, "SHOAL_NODE_SHARED_OBJECTS_SNAPSHOT_EVERY=50")
	home := func(n *node) []*node { return []*node{n} }
	sc := startWriters(t, nodes, home, "e2e/restart", "scores", true)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	sc.run(ctx)
	if t.Failed() {
		t.FailNow()
	}
	before := sc.finish(nodes[0])
	var version uint64
	for _, w := range sc.writers {
		version = max(version, w.u.maxVersion())
		w.u.close()
	}

	// Stop everything: every node, then every NATS server.
	for _, n := range nodes {
		n.stop(t)
	}
	for _, s := range servers {
		s.stop(t)
	}
	// And start it all again on the same files.
	for _, s := range servers {
		s.start(t)
	}
	for i, cfg := range cfgs {
		nodes[i] = startNode(t, cfg)
	}
	for i, k := range []kind{rtmpAMF0, rtmpAMF3, webSocket} {
		u := newUser("after-"+k.String(), k, "e2e/restart", "scores", true)
		v, data := connectRetry(t, u, nodes[i%len(nodes)])
		u.close()
		if diff := cmp.Diff(before, data); diff != "" {
			t.Errorf("%s: the object after the restart differs from before (-before +after):\n%s", u.name, diff)
		}
		if v <= version {
			t.Errorf("%s: version %d after the restart, want above %d", u.name, v, version)
		}
	}
	// And it takes writes again.
	u := newUser("writer-after", rtmpAMF0, "e2e/restart", "scores", true)
	connectRetry(t, u, nodes[1])
	defer u.close()
	if _, err := u.write(t.Context(), []kv{{"after", "restart"}}, 10*time.Second); err != nil {
		t.Fatalf("write after the restart: %v", err)
	}
}

func TestClusterEmbeddedNATSRestart(t *testing.T) {
	// Node A runs the only NATS server (R1); node B's clients write through
	// it. A crashes and comes back on the same address and files: B's
	// clients stay connected to B, and their writes go through again once
	// A is back. A persistent object is on A's disk. A transient object
	// lived in A's memory and its log starts again empty: node B, which
	// still has a client of it, writes its copy back, so the client keeps
	// its data and its versions keep rising.
	cfgA := nodeConfig{id: "node-a", dataDir: t.TempDir(), embeddedAddr: freeAddr(t)}
	a := startNode(t, cfgA)
	b := startNode(t, nodeConfig{id: "node-b", natsURL: a.natsURL})
	u := newUser("b-amf0", rtmpAMF0, "e2e/r1", "ledger", true)
	if _, _, err := u.connect(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	defer u.close()
	if _, err := u.write(t.Context(), []kv{{"before", "1"}}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	before := u.version()
	tu := newUser("b-amf3", rtmpAMF3, "e2e/r1", "ball", false)
	if _, _, err := tu.connect(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	defer tu.close()
	if _, err := tu.write(t.Context(), []kv{{"x", "1"}, {"y", "2"}}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	tBefore := tu.version()

	a.kill(t)
	down := time.Now()
	a = startNode(t, cfgA)
	// Writes sent while the server was down may or may not have happened;
	// one gets Success once B has reconnected.
	var v uint64
	checkFor(t, 30*time.Second, 100*time.Millisecond, func() error {
		var err error
		v, err = u.write(t.Context(), []kv{{"after", "1"}}, 2*time.Second)
		return err
	})
	t.Logf("writes through node-b went through again %v after node-a (and NATS) died", time.Since(down).Round(time.Millisecond))
	if v <= before {
		t.Errorf("version %d after the restart, want above %d", v, before)
	}
	want := map[string]any{"before": "1", "after": "1"}
	if diff := cmp.Diff(want, u.data()); diff != "" {
		t.Errorf("client on node-b (-want +got):\n%s", diff)
	}
	fresh := newUser("a-ws", webSocket, "e2e/r1", "ledger", true)
	_, got := connectRetry(t, fresh, a)
	fresh.close()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("new client on the restarted node-a (-want +got):\n%s", diff)
	}

	// The transient object: B restored it into the new log.
	checkFor(t, 30*time.Second, 100*time.Millisecond, func() error {
		var err error
		v, err = tu.write(t.Context(), []kv{{"z", "3"}}, 2*time.Second)
		return err
	})
	if v <= tBefore {
		t.Errorf("transient object at version %d after the restart, want above %d", v, tBefore)
	}
	tWant := map[string]any{"x": "1", "y": "2", "z": "3"}
	if diff := cmp.Diff(tWant, tu.data()); diff != "" {
		t.Errorf("client of the transient object on node-b (-want +got):\n%s", diff)
	}
	if err := tu.versionWentBack(); err != nil {
		t.Errorf("client of the transient object on node-b: %v", err)
	}
	tFresh := newUser("a-ws-t", webSocket, "e2e/r1", "ball", false)
	fv, got := connectRetry(t, tFresh, a)
	tFresh.close()
	if diff := cmp.Diff(tWant, got); diff != "" {
		t.Errorf("new client of the transient object on node-a (-want +got):\n%s", diff)
	}
	if fv <= v {
		t.Errorf("new client of the transient object on node-a got version %d, want above %d", fv, v)
	}
}
