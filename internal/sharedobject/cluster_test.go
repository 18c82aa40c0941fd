package sharedobject_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shoal-live/shoal/internal/rtmp/amf"
	"github.com/shoal-live/shoal/internal/rtmp/somsg"
	so "github.com/shoal-live/shoal/internal/sharedobject"
	"github.com/shoal-live/shoal/internal/sharedobject/sharedobjecttest"
)

var logKinds = []struct {
	name string
	new  func() *sharedobjecttest.Log
}{
	{"snapshots replace records", sharedobjecttest.NewLog},
	{"snapshots are roll-up records", sharedobjecttest.NewRollupLog},
}

// randomRequests returns the requests of one random client message.
func randomRequests(r *rand.Rand) []so.Request {
	key := func() string { return fmt.Sprintf("k%d", r.IntN(6)) }
	value := func() any {
		switch r.IntN(4) {
		case 0:
			return float64(r.IntN(3))
		case 1:
			return amf.Object{{Key: "x", Value: float64(r.IntN(3))}, {Key: "nested", Value: amf.Object{{Key: "y", Value: r.IntN(2) == 0}}}}
		case 2:
			return fmt.Sprintf("s%d", r.IntN(3))
		}
		return nil
	}
	reqs := make([]so.Request, 1+r.IntN(3))
	for i := range reqs {
		switch r.IntN(6) {
		case 0:
			reqs[i] = remove(key())
		case 1:
			reqs[i] = send("note", float64(i))
		default:
			reqs[i] = set(key(), value())
		}
	}
	return reqs
}

func TestTwoNodesConverge(t *testing.T) {
	for _, lk := range logKinds {
		t.Run(lk.name, func(t *testing.T) {
			checkNoLeaks(t)
			c := &cluster{log: lk.new(), presence: so.NewLocalPresence()}
			nodes := []*so.Manager{
				c.start(t, so.Config{NodeID: "a", SnapshotEvery: 7}),
				c.start(t, so.Config{NodeID: "b", SnapshotEvery: 7}),
			}
			const clientsPerNode, messages = 3, 40
			var clients []*client
			for i, m := range nodes {
				for j := range clientsPerNode {
					cl := newClient(fmt.Sprintf("n%d-c%d", i, j))
					cl.use(t, m, ball)
					clients = append(clients, cl)
				}
			}
			var wg sync.WaitGroup
			for i, cl := range clients {
				m := nodes[i/clientsPerNode]
				r := rand.New(rand.NewPCG(uint64(i), 1))
				wg.Go(func() {
					for range messages {
						reqs := randomRequests(r)
						cl.sent(reqs)
						if err := m.Submit(context.Background(), ball, cl, cl.conn, reqs); err != nil {
							t.Errorf("Submit: %v", err)
							return
						}
					}
				})
			}
			wg.Wait()

			wantVersion := uint64(len(clients) * (1 + messages))
			checkFor(t, 5*time.Second, time.Millisecond, func() error {
				for i, m := range nodes {
					if v := m.Object(ball).Version(); v != wantVersion {
						return fmt.Errorf("node %d at version %d, want %d", i, v, wantVersion)
					}
				}
				return nil
			})
			state := nodes[0].Object(ball).Attributes()
			if diff := cmp.Diff(state, nodes[1].Object(ball).Attributes(), eventOpts); diff != "" {
				t.Errorf("nodes differ (-a +b):\n%s", diff)
			}
			for _, cl := range clients {
				data, _, errs := cl.snapshot()
				for _, err := range errs {
					t.Error(err)
				}
				if diff := cmp.Diff(state, data, eventOpts); diff != "" {
					t.Errorf("client %s differs from the object (-object +client):\n%s", cl.name, diff)
				}
			}

			// Busy, snapshots may all have been stale; quiet, one is written.
			for i := range 8 {
				clients[0].submit(t, nodes[0], ball, set("quiet", float64(i)))
				clients[0].wait(t, 1)
			}
			checkFor(t, 5*time.Second, time.Millisecond, func() error {
				if _, snaps := c.log.Stats(); snaps == 0 {
					return fmt.Errorf("no snapshot was written")
				}
				return nil
			})
		})
	}
}

func TestLateFollowerCatchesUp(t *testing.T) {
	for _, lk := range logKinds {
		t.Run(lk.name, func(t *testing.T) {
			checkNoLeaks(t)
			c := &cluster{log: lk.new(), presence: so.NewLocalPresence()}
			m1 := c.start(t, so.Config{NodeID: "a", SnapshotEvery: 10})
			a := newClient("a")
			a.use(t, m1, ball)
			for i := range 25 {
				a.submit(t, m1, ball, set(fmt.Sprintf("k%d", i%7), float64(i)))
				a.wait(t, 1)
			}
			checkFor(t, 5*time.Second, time.Millisecond, func() error {
				if n, snap := c.log.Records(ball); !snap || n >= 25 {
					return fmt.Errorf("log has %d records, snapshot %v; want a snapshot", n, snap)
				}
				return nil
			})

			m2 := c.start(t, so.Config{NodeID: "b", SnapshotEvery: 10})
			b := newClient("b")
			got := b.use(t, m2, ball)
			state := m1.Object(ball).Attributes()
			wantEvents := []so.Event{ev(somsg.UseSuccess), ev(somsg.Clear)}
			for i := range 7 {
				k := fmt.Sprintf("k%d", i)
				wantEvents = append(wantEvents, change(k, state[k]))
			}
			wantDeliveries(t, "b", []delivery{got}, delivery{Version: 27, Events: wantEvents})

			a.submit(t, m1, ball, set("late", "news"))
			wantDeliveries(t, "b", b.wait(t, 1), delivery{Version: 28, Events: []so.Event{change("late", "news")}})
		})
	}
}

// gatedLog holds back Follow until open is closed.
type gatedLog struct {
	*sharedobjecttest.Log
	open chan struct{}
}

func (g gatedLog) Follow(ctx context.Context, obj so.ObjectID, fn func(so.Record)) error {
	select {
	case <-g.open:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.Log.Follow(ctx, obj, fn)
}

// A node whose Use was folded into a snapshot before it followed the log
// still answers it, from the snapshot.
func TestUseFoldedIntoSnapshot(t *testing.T) {
	checkNoLeaks(t)
	c := newCluster()
	m1 := c.start(t, so.Config{NodeID: "a", SnapshotEvery: 5})
	a := newClient("a")
	a.use(t, m1, ball)

	g := gatedLog{Log: c.log, open: make(chan struct{})}
	m2 := so.New(so.Config{NodeID: "b", SnapshotEvery: 5}, g, c.presence, discardLogger())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m2.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	b := newClient("b")
	checkFor(t, 5*time.Second, time.Millisecond, func() error {
		return m2.Use(t.Context(), ball, b, b.conn) // ErrNotRunning until Run started
	})
	// Versions 3, 4, 5; node a snapshots at 5, covering b's Use (2).
	for i := range 3 {
		a.submit(t, m1, ball, set("k", float64(i)))
		a.wait(t, 1)
	}
	checkFor(t, 5*time.Second, time.Millisecond, func() error {
		if n, snap := c.log.Records(ball); !snap || n != 0 {
			return fmt.Errorf("log has %d records, snapshot %v; want only a snapshot", n, snap)
		}
		return nil
	})
	close(g.open)
	wantDeliveries(t, "b", b.wait(t, 1), delivery{Version: 5, Events: []so.Event{
		ev(somsg.UseSuccess), ev(somsg.Clear), change("k", 2.0),
	}})
	a.submit(t, m1, ball, set("k", 3.0))
	wantDeliveries(t, "b", b.wait(t, 1), delivery{Version: 6, Events: []so.Event{change("k", 3.0)}})
}

// pausableLog holds back the records it delivers while paused.
type pausableLog struct {
	*sharedobjecttest.Log
	mu      sync.Mutex
	gate    chan struct{} // non-nil while paused
	blocked chan struct{} // gets a value when a delivery waits at the gate
}

func (p *pausableLog) pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gate = make(chan struct{})
}

func (p *pausableLog) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	close(p.gate)
	p.gate = nil
}

func (p *pausableLog) Follow(ctx context.Context, obj so.ObjectID, fn func(so.Record)) error {
	return p.Log.Follow(ctx, obj, func(r so.Record) {
		p.mu.Lock()
		g := p.gate
		p.mu.Unlock()
		if g != nil {
			p.blocked <- struct{}{}
			select {
			case <-g:
			case <-ctx.Done():
				return
			}
		}
		fn(r)
	})
}

// A client whose write was folded into a snapshot before its node applied
// it gets its reply and then the key's current value, so that its view
// ends equal to the object.
func TestCoveredWritesAreCorrected(t *testing.T) {
	checkNoLeaks(t)
	c := newCluster()
	m1 := c.start(t, so.Config{NodeID: "a", SnapshotEvery: 6})
	pl := &pausableLog{Log: c.log, blocked: make(chan struct{}, 1)}
	m2 := so.New(so.Config{NodeID: "b", SnapshotEvery: -1}, pl, c.presence, discardLogger())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m2.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	a, b := newClient("a"), newClient("b")
	a.use(t, m1, ball)
	b.use(t, m2, ball)
	pl.pause()
	a.submit(t, m1, ball, set("x", 1.0)) // 3: node b stops at it
	a.wait(t, 1)
	<-pl.blocked
	b.submit(t, m2, ball, set("k", 1.0)) // 4
	a.wait(t, 1)
	a.submit(t, m1, ball, set("k", 2.0)) // 5
	a.wait(t, 1)
	a.submit(t, m1, ball, remove("k")) // 6: node a snapshots
	a.wait(t, 1)
	checkFor(t, 5*time.Second, time.Millisecond, func() error {
		if n, snap := c.log.Records(ball); !snap || n != 0 {
			return fmt.Errorf("log has %d records, snapshot %v; want only a snapshot", n, snap)
		}
		return nil
	})
	pl.resume()
	wantDeliveries(t, "b", b.wait(t, 2),
		delivery{Version: 3, Events: []so.Event{change("x", 1.0)}},
		delivery{Version: 6, Events: []so.Event{success("k"), removed("k")}})
	data, _, errs := b.snapshot()
	for _, err := range errs {
		t.Error(err)
	}
	if diff := cmp.Diff(m1.Object(ball).Attributes(), data, eventOpts); diff != "" {
		t.Errorf("client differs from the object (-object +client):\n%s", diff)
	}
}
