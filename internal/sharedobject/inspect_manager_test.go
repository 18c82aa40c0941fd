package sharedobject_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shoal-live/shoal/internal/rtmp/amf"
	so "github.com/shoal-live/shoal/internal/sharedobject"
)

// TestInspectorFollowsManager checks that an Inspector fed with an object's
// log, snapshots included, shows what a node's replica holds.
func TestInspectorFollowsManager(t *testing.T) {
	checkNoLeaks(t)
	c := newCluster()
	m := c.start(t, so.Config{NodeID: "node-a", SnapshotEvery: 4})
	id := so.ObjectID{Scope: "live", Name: "ball", Persistent: true}
	a := newClient("a")
	a.use(t, m, id)
	for i := range 11 {
		a.submit(t, m, id, set("x", float64(i)), set(fmt.Sprintf("k%d", i%3), "v"))
	}
	a.submit(t, m, id, remove("k0"), send("hello", "there"))
	a.submit(t, m, id, set("obj", amf.Object{{Key: "x", Value: 1.0}}))
	h := m.Object(id)
	want := int64(14) // the Use and 13 submits
	checkFor(t, 5*time.Second, time.Millisecond, func() error {
		if v := h.Version(); int64(v) != want {
			return fmt.Errorf("replica version %d, want %d", v, want)
		}
		return nil
	})
	// Snapshots are written in the background, after the batch that
	// called for them was applied.
	checkFor(t, 5*time.Second, time.Millisecond, func() error {
		if _, snaps := c.log.Stats(); snaps == 0 {
			return errors.New("no snapshot written; the test needs one")
		}
		return nil
	})

	var (
		mu  sync.Mutex
		in  so.Inspector
		err error
	)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- c.log.Follow(ctx, id, func(r so.Record) {
			mu.Lock()
			defer mu.Unlock()
			if e := in.Apply(r.Seq, r.Data); e != nil && err == nil {
				err = e
			}
		})
	}()
	defer func() {
		cancel()
		if e := <-done; e != nil && !errors.Is(e, context.Canceled) {
			t.Errorf("Follow: %v", e)
		}
	}()
	checkFor(t, 5*time.Second, time.Millisecond, func() error {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			return err
		}
		if in.Version() != h.Version() {
			return fmt.Errorf("inspector version %d, replica %d", in.Version(), h.Version())
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	got := map[string]any{}
	for _, at := range in.Attributes() {
		got[at.Key] = at.Value
	}
	if diff := cmp.Diff(h.Attributes(), got, eventOpts); diff != "" {
		t.Errorf("inspector attributes differ from the replica (-replica +inspector):\n%s", diff)
	}
	// The log may start at a snapshot taken at the last version, which
	// names no node.
	if !in.Created() || (in.LastNode() != "node-a" && in.LastNode() != "") {
		t.Errorf("Created() = %v, LastNode() = %q, want true, node-a or none", in.Created(), in.LastNode())
	}
}
