package sharedobject_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shoal-live/shoal/internal/rtmp/amf"
	so "github.com/shoal-live/shoal/internal/sharedobject"
)

func TestHandle(t *testing.T) {
	checkNoLeaks(t)
	c := newCluster()
	m1 := c.start(t, so.Config{NodeID: "a"})
	m2 := c.start(t, so.Config{NodeID: "b"})
	h := m1.Object(scores)
	if v, ok := h.Get("k"); ok || h.Version() != 0 || len(h.Attributes()) != 0 {
		t.Fatalf("unloaded object reads %v %v, version %d, %v", v, ok, h.Version(), h.Attributes())
	}

	var mu sync.Mutex
	var seen []so.ChangeEvent
	stop := h.Listen(func(ce so.ChangeEvent) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, ce)
	})
	if err := h.Hold(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	if got := h.Version(); got != 1 {
		t.Errorf("Version after Hold = %d, want 1", got)
	}

	// Changes from another node and from a client of it.
	h2 := m2.Object(scores)
	if err := h2.Set(t.Context(), "top", "ann"); err != nil {
		t.Fatal(err)
	}
	b := newClient("b")
	b.use(t, m2, scores)
	b.submit(t, m2, scores, set("top", "ann"), set("n", int32(3)), send("hello", "x"))
	b.wait(t, 1)
	if err := h2.Remove(t.Context(), "n"); err != nil {
		t.Fatal(err)
	}
	if err := h2.Clear(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := h2.Set(t.Context(), "last", amf.Object{{Key: "z", Value: true}}); err != nil {
		t.Fatal(err)
	}
	checkFor(t, 5*time.Second, time.Millisecond, func() error {
		if v := h.Version(); v != 7 {
			return fmt.Errorf("version %d, want 7", v)
		}
		return nil
	})
	want := []so.ChangeEvent{
		{Object: scores, Version: 2, Kind: so.ChangeSet, Key: "top", Value: "ann", Node: "b"},
		// Version 3 is b's Use; in 4 "top" did not change.
		{Object: scores, Version: 4, Kind: so.ChangeSet, Key: "n", Value: int32(3), Node: "b"},
		{Object: scores, Version: 4, Kind: so.ChangeSend, Handler: "hello", Args: []any{"x"}, Node: "b"},
		{Object: scores, Version: 5, Kind: so.ChangeRemove, Key: "n", Node: "b"},
		{Object: scores, Version: 6, Kind: so.ChangeClear, Node: "b"},
		{Object: scores, Version: 7, Kind: so.ChangeSet, Key: "last", Value: amf.Object{{Key: "z", Value: true}}, Node: "b"},
	}
	mu.Lock()
	got := append([]so.ChangeEvent(nil), seen...)
	mu.Unlock()
	if diff := cmp.Diff(want, got, eventOpts); diff != "" {
		t.Errorf("observed changes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{"last": amf.Object{{Key: "z", Value: true}}}, h.Attributes(), eventOpts); diff != "" {
		t.Errorf("Attributes (-want +got):\n%s", diff)
	}

	stop()
	if err := h2.Set(t.Context(), "after", 1.0); err != nil {
		t.Fatal(err)
	}
	checkFor(t, 5*time.Second, time.Millisecond, func() error {
		if _, ok := h.Get("after"); !ok {
			return fmt.Errorf("change not applied")
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != len(got) {
		t.Errorf("observer called after stop: %+v", seen[len(got):])
	}
}
