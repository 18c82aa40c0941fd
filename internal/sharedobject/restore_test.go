package sharedobject_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shoal-live/shoal/internal/rtmp/somsg"
	so "github.com/shoal-live/shoal/internal/sharedobject"
	"github.com/shoal-live/shoal/internal/sharedobject/sharedobjecttest"
)

// waitState waits until every client's copy is want.
func waitState(t *testing.T, want map[string]any, clients ...*client) {
	t.Helper()
	checkFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		for _, cl := range clients {
			data, _, errs := cl.snapshot()
			if len(errs) > 0 {
				return fmt.Errorf("%s: %v", cl.name, errs)
			}
			if diff := cmp.Diff(want, data, eventOpts); diff != "" {
				return fmt.Errorf("%s copy (-want +got):\n%s", cl.name, diff)
			}
		}
		return nil
	})
}

func maxVersion(clients ...*client) uint64 {
	var v uint64
	for _, cl := range clients {
		_, cv, _ := cl.snapshot()
		v = max(v, cv)
	}
	return v
}

// noRemoves fails if any delivery removed a key or cleared the object.
func noRemoves(t *testing.T, cl *client) {
	t.Helper()
	for _, d := range cl.take() {
		for _, e := range d.Events {
			if e.Type == somsg.Remove || e.Type == somsg.Clear {
				t.Errorf("%s got %v at version %d; its copy should have been kept", cl.name, e.Type, d.Version)
			}
		}
	}
}

// TestLogLostRestoresState loses the whole log (as a NATS server with the
// memory stream restarting) while two nodes have clients: both write their
// copies back, the clients keep their data, see no version go backwards,
// and a node that follows afresh gets the same state at a higher version.
func TestLogLostRestoresState(t *testing.T) {
	checkNoLeaks(t)
	c := newCluster()
	a := c.start(t, so.Config{NodeID: "a", SnapshotEvery: 3})
	b := c.start(t, so.Config{NodeID: "b", SnapshotEvery: 3})
	ca, cb := newClient("ca"), newClient("cb")
	ca.use(t, a, ball)
	cb.use(t, b, ball)
	ca.submit(t, a, ball, set("x", 1.0))
	cb.submit(t, b, ball, set("y", "two"))
	ca.submit(t, a, ball, set("x", 3.0), set("z", true))
	want := map[string]any{"x": 3.0, "y": "two", "z": true}
	waitState(t, want, ca, cb)
	before := maxVersion(ca, cb)
	ca.take()
	cb.take()

	c.log.Lose()

	// Both nodes restore; a node that starts following now reads the
	// restored state at a version above any seen.
	d := c.start(t, so.Config{NodeID: "d"})
	probe(t, d, want, before)
	noRemoves(t, ca)
	noRemoves(t, cb)

	// Writes go on through the new log, at higher versions.
	cb.submit(t, b, ball, set("w", "after"))
	want["w"] = "after"
	waitState(t, want, ca, cb)
	if va, vb := maxVersion(ca), maxVersion(cb); va != vb || va <= before {
		t.Errorf("versions after the restore: a %d, b %d; want equal and above %d", va, vb, before)
	}
}

// probe uses id on m (again and again) until a client gets want at a
// version above above.
func probe(t *testing.T, m *so.Manager, want map[string]any, above uint64) {
	t.Helper()
	cl := newClient("probe")
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		d := cl.use(t, m, ball)
		m.Release(ball, cl)
		cl.take()
		got := map[string]any{}
		for _, e := range d.Events {
			if e.Type == somsg.Change {
				got[e.Key] = e.Value
			}
		}
		if diff := cmp.Diff(want, got, eventOpts); diff != "" {
			return fmt.Errorf("state at version %d (-want +got):\n%s", d.Version, diff)
		}
		if d.Version <= above {
			return fmt.Errorf("version %d, want above %d", d.Version, above)
		}
		return nil
	})
}

// TestLogLostUseAfterLoss checks that a client that uses the object on
// another node after the loss gets the state the node that had a client
// wrote back.
func TestLogLostUseAfterLoss(t *testing.T) {
	checkNoLeaks(t)
	c := newCluster()
	a := c.start(t, so.Config{NodeID: "a"})
	ca := newClient("ca")
	ca.use(t, a, ball)
	ca.submit(t, a, ball, set("k", "v"))
	waitState(t, map[string]any{"k": "v"}, ca)
	c.log.Lose()

	b := c.start(t, so.Config{NodeID: "b"})
	cb := newClient("cb")
	cb.use(t, b, ball)
	waitState(t, map[string]any{"k": "v"}, ca, cb)
}

// TestDroppedElsewhereWhileInUse drops an object from another node that
// does not see this node's presence (as after a partition longer than the
// presence TTL): this node, whose client still uses the object, writes its
// copy back, and its client notices nothing.
func TestDroppedElsewhereWhileInUse(t *testing.T) {
	checkNoLeaks(t)
	log := sharedobjecttest.NewLog()
	a := startWith(t, so.New(so.Config{NodeID: "a"}, log, so.NewLocalPresence(), discardLogger()))
	// b has its own presence: it cannot see that a uses the object.
	b := startWith(t, so.New(so.Config{NodeID: "b", Linger: -1}, log, so.NewLocalPresence(), discardLogger()))

	ca := newClient("ca")
	ca.use(t, a, ball)
	ca.submit(t, a, ball, set("k", 1.0), set("j", "s"))
	want := map[string]any{"k": 1.0, "j": "s"}
	waitState(t, want, ca)
	before := maxVersion(ca)
	ca.take()

	cb := newClient("cb")
	cb.use(t, b, ball)
	b.Release(ball, cb)
	checkFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		if slices.Contains(b.Loaded(), ball) {
			return fmt.Errorf("b still follows %s", ball)
		}
		return nil
	})

	// a saw the tombstone and restored: a new client of b gets the state.
	probe(t, b, want, before+2) // cb's use, the tombstone, then the restore
	noRemoves(t, ca)
	ca.submit(t, a, ball, set("k", 2.0))
	want["k"] = 2.0
	waitState(t, want, ca)
	if v := maxVersion(ca); v <= before+3 {
		t.Errorf("a's client at version %d after a write, want above %d", v, before+3)
	}
}

// holdLog wraps the in-memory log's Follow: it can hold the next record
// back (a follow that is away) and swallow the records after the next
// Reset (a follow that never got to deliver them before the log was lost
// again).
type holdLog struct {
	*sharedobjecttest.Log
	mu        sync.Mutex
	swallow   bool
	armSwall  bool
	blockNext bool
	block     chan struct{}
	blocked   chan struct{}
}

func newHoldLog(l *sharedobjecttest.Log) *holdLog {
	return &holdLog{Log: l, block: make(chan struct{}), blocked: make(chan struct{})}
}

func (g *holdLog) Follow(ctx context.Context, obj so.ObjectID, fn func(so.Record)) error {
	return g.Log.Follow(ctx, obj, func(r so.Record) {
		g.mu.Lock()
		if r.Reset {
			g.swallow, g.armSwall = g.armSwall, false
		}
		swallow := g.swallow && !r.Reset
		var wait chan struct{}
		if g.blockNext && !r.Reset {
			g.blockNext = false
			wait = g.block
			close(g.blocked)
		}
		g.mu.Unlock()
		if wait != nil {
			select {
			case <-wait:
			case <-ctx.Done():
			}
		}
		if !swallow {
			fn(r)
		}
	})
}

// eventsFor returns the events of deliveries about key.
func eventsFor(ds []delivery, key string) []so.Event {
	var out []so.Event
	for _, d := range ds {
		for _, e := range d.Events {
			if e.Key == key {
				out = append(out, e)
			}
		}
	}
	return out
}

// TestLogLostTwiceBeforeRestore loses the log again after this node stored
// its restore in the new log but before it applied it: the node writes its
// first copy back again, its client keeps its data, hears back about its
// writes and never sees its version go back.
func TestLogLostTwiceBeforeRestore(t *testing.T) {
	checkNoLeaks(t)
	g := newHoldLog(sharedobjecttest.NewLog())
	a := startWith(t, so.New(so.Config{NodeID: "a"}, g, so.NewLocalPresence(), discardLogger()))
	ca := newClient("ca")
	ca.use(t, a, ball)
	ca.submit(t, a, ball, set("x", 1.0), set("y", "two"))
	want := map[string]any{"x": 1.0, "y": "two"}
	waitState(t, want, ca)
	before := maxVersion(ca)
	ca.take()

	g.mu.Lock()
	g.armSwall = true
	g.mu.Unlock()
	g.Lose()
	checkFor(t, 5*time.Second, time.Millisecond, func() error {
		if g.Last(ball) == 0 {
			return errors.New("no restore stored in the second log yet")
		}
		return nil
	})
	g.Lose()

	ca.submit(t, a, ball, set("z", 3.0))
	want["z"] = 3.0
	waitState(t, want, ca)
	if evs := eventsFor(ca.take(), "z"); !slices.ContainsFunc(evs, func(e so.Event) bool { return e.Type == somsg.Success }) {
		t.Errorf("ca's events for z = %+v, want a Success", evs)
	}
	d := startWith(t, so.New(so.Config{NodeID: "d"}, g, so.NewLocalPresence(), discardLogger()))
	probe(t, d, want, before)
}

// TestDropCoversPendingWrites drops the object from another node while
// this node's follow is behind its own acknowledged writes: the drop
// erases them before this node applies them, and this node, which still
// has a client, writes them back with its copy and answers them.
func TestDropCoversPendingWrites(t *testing.T) {
	checkNoLeaks(t)
	g := newHoldLog(sharedobjecttest.NewLog())
	a := startWith(t, so.New(so.Config{NodeID: "a"}, g, so.NewLocalPresence(), discardLogger()))
	b := startWith(t, so.New(so.Config{NodeID: "b", Linger: -1}, g, so.NewLocalPresence(), discardLogger()))
	ca := newClient("ca")
	ca.use(t, a, ball)
	ca.submit(t, a, ball, set("k", 1.0))
	waitState(t, map[string]any{"k": 1.0}, ca)
	ca.take()

	g.mu.Lock()
	g.blockNext = true
	g.mu.Unlock()
	ca.submit(t, a, ball, set("j", 2.0)) // a's follow holds this one back
	<-g.blocked
	ca.submit(t, a, ball, set("m", 3.0))
	cb := newClient("cb")
	cb.use(t, b, ball)
	b.Release(ball, cb) // b drops the object: a tombstone after both writes
	checkFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		if g.Exists(ball) {
			return errors.New("not dropped yet")
		}
		return nil
	})
	close(g.block)

	want := map[string]any{"k": 1.0, "j": 2.0, "m": 3.0}
	waitState(t, want, ca)
	ds := ca.take()
	for _, key := range []string{"j", "m"} {
		if evs := eventsFor(ds, key); !slices.ContainsFunc(evs, func(e so.Event) bool { return e.Type == somsg.Success }) {
			t.Errorf("ca's events for %s = %+v, want a Success", key, evs)
		}
	}
	noRemovesIn(t, "ca", ds)
	probe(t, b, want, 4)
}

// TestAckFromRestartedLogIsNotCovered acknowledges a write in a log that
// restarted before the follow noticed, at a sequence number the old log's
// snapshots had passed: the write is not taken as folded into a snapshot
// (no Success followed by its old value); it is applied from the new log.
func TestAckFromRestartedLogIsNotCovered(t *testing.T) {
	checkNoLeaks(t)
	g := newHoldLog(sharedobjecttest.NewRollupLog())
	a := startWith(t, so.New(so.Config{NodeID: "a", SnapshotEvery: 3}, g, so.NewLocalPresence(), discardLogger()))
	ca := newClient("ca")
	ca.use(t, a, ball)
	for i := range 6 {
		ca.submit(t, a, ball, set("k", float64(i)))
	}
	waitState(t, map[string]any{"k": 5.0}, ca)
	checkFor(t, 5*time.Second, time.Millisecond, func() error {
		if _, snap := g.Records(ball); !snap {
			return errors.New("no snapshot written; the test needs one")
		}
		return nil
	})
	ca.take()

	g.mu.Lock()
	g.blockNext = true
	g.mu.Unlock()
	ca.submit(t, a, ball, set("k", 6.0))
	<-g.blocked
	g.Lose()
	ca.submit(t, a, ball, set("n", 9.0)) // acknowledged by the new log at seq 1
	close(g.block)

	want := map[string]any{"k": 6.0, "n": 9.0}
	waitState(t, want, ca)
	ds := ca.take()
	// Its Success, and perhaps the value again with the restore's changes.
	if evs := eventsFor(ds, "n"); len(evs) == 0 || evs[0].Type != somsg.Success {
		t.Errorf("ca's events for n = %+v, want a Success first", evs)
	}
	noRemovesIn(t, "ca", ds)
}

func noRemovesIn(t *testing.T, who string, ds []delivery) {
	t.Helper()
	for _, d := range ds {
		for _, e := range d.Events {
			if e.Type == somsg.Remove || e.Type == somsg.Clear {
				t.Errorf("%s got %v of %q at version %d", who, e.Type, e.Key, d.Version)
			}
		}
	}
}

// slowRestoreLog holds back the first Append after arm (the restore a
// node writes when it notices a Reset) until release is closed.
type slowRestoreLog struct {
	*sharedobjecttest.Log
	mu      sync.Mutex
	armed   bool
	held    chan struct{} // closed when the Append is held
	release chan struct{}
}

func (l *slowRestoreLog) Append(ctx context.Context, obj so.ObjectID, data []byte) (uint64, error) {
	l.mu.Lock()
	hold := l.armed
	l.armed = false
	l.mu.Unlock()
	if hold {
		close(l.held)
		select {
		case <-l.release:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return l.Log.Append(ctx, obj, data)
}

// useDuringRestore loses the log and, while a's restore is held back, has
// a second client use the object on a: its Use is applied and waits for
// the restore.
func useDuringRestore(t *testing.T, cfg so.Config) (*slowRestoreLog, *so.Manager, *client, *client) {
	t.Helper()
	l := &slowRestoreLog{Log: sharedobjecttest.NewLog(), held: make(chan struct{}), release: make(chan struct{})}
	a := startWith(t, so.New(cfg, l, so.NewLocalPresence(), discardLogger()))
	ca := newClient("ca")
	ca.use(t, a, ball)
	ca.submit(t, a, ball, set("k", 1.0))
	waitState(t, map[string]any{"k": 1.0}, ca)
	l.mu.Lock()
	l.armed = true
	l.mu.Unlock()
	l.Lose()
	<-l.held
	cb := newClient("cb")
	if err := a.Use(t.Context(), ball, cb, cb.conn); err != nil {
		t.Fatal(err)
	}
	checkFor(t, 5*time.Second, time.Millisecond, func() error {
		if l.Last(ball) == 0 {
			return errors.New("cb's use not stored yet")
		}
		return nil
	})
	time.Sleep(50 * time.Millisecond) // let the follow apply it
	if got := cb.take(); len(got) != 0 {
		t.Fatalf("cb got %+v before the restore", got)
	}
	return l, a, ca, cb
}

// TestUseWaitingForRestoreIsReleased releases a Use that waits for the
// restore: the client gets nothing after Release, and its reference goes.
func TestUseWaitingForRestoreIsReleased(t *testing.T) {
	checkNoLeaks(t)
	l, a, ca, cb := useDuringRestore(t, so.Config{NodeID: "a", Linger: -1})
	a.Release(ball, cb)
	close(l.release)
	waitState(t, map[string]any{"k": 1.0}, ca)
	time.Sleep(100 * time.Millisecond)
	if got := cb.take(); len(got) != 0 {
		t.Errorf("cb got %+v after its Release", got)
	}
	a.Release(ball, ca)
	checkFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		if slices.Contains(a.Loaded(), ball) {
			return errors.New("object still loaded: a reference leaked")
		}
		return nil
	})
}

// TestUseWaitingForRestoreSurvivesAnotherLoss loses the log again while a
// Use waits for the restore: the Use is still answered.
func TestUseWaitingForRestoreSurvivesAnotherLoss(t *testing.T) {
	checkNoLeaks(t)
	l, _, ca, cb := useDuringRestore(t, so.Config{NodeID: "a"})
	l.Lose()
	close(l.release)
	waitState(t, map[string]any{"k": 1.0}, ca, cb)
	if got := cb.take(); len(got) == 0 || len(got[0].Events) == 0 || got[0].Events[0].Type != somsg.UseSuccess {
		t.Errorf("cb got %+v, want UseSuccess first", got)
	}
}
