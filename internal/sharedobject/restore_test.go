package sharedobject_test

import (
	"context"
	"fmt"
	"slices"
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

// startWith runs m until the test ends.
func startWith(t *testing.T, m *so.Manager) *so.Manager {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return m
}
