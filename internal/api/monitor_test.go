package api

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shoal-live/shoal/internal/store"
	"github.com/shoal-live/shoal/internal/store/storetest"
)

func TestMonitor_Check(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.seed()
		ctx := t.Context()
		quiet := e.node("g", store.RoleEdge, "10.0.0.1", 1935, "local")
		talking := e.node("g", store.RoleEdge, "10.0.0.2", 1935, "local")
		pending, _ := st.CreateNode(ctx, store.Node{Group: "g", Role: store.RoleEdge, Zone: "z"})
		start := time.Now()
		m := NewMonitor(st, 10*time.Second, 0, nil)

		// Within three intervals nobody is marked.
		if faulted, err := m.Check(ctx, start.Add(29*time.Second)); err != nil || len(faulted) != 0 {
			t.Fatalf("Check at 29s = %v, %v; want nothing", faulted, err)
		}
		if err := st.SaveReport(ctx, talking.ID, store.Report{At: start.Add(25 * time.Second)}); err != nil {
			t.Fatal(err)
		}
		faulted, err := m.Check(ctx, start.Add(31*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if len(faulted) != 1 || faulted[0].ID != quiet.ID || faulted[0].State != store.NodeFault {
			t.Fatalf("Check at 31s = %+v, want only the quiet node FAULT", faulted)
		}
		evs, _ := st.NodeEvents(ctx, quiet.Identifier)
		last := evs[len(evs)-1]
		if last.To != "FAULT" || !strings.Contains(last.Reason, "3 reporting intervals of 10s") {
			t.Errorf("fault event = %+v, want the reason with the numbers", last)
		}
		for _, n := range []store.Node{talking, pending} {
			got, _ := st.Node(ctx, n.ID)
			if got.State == store.NodeFault {
				t.Errorf("node %s (%s) marked FAULT", n.Identifier, n.State)
			}
		}
		// The faulted node is not chosen any more.
		e.report(e.node("g", store.RoleOrigin, "10.0.0.9", 1935, "local"), store.Report{Streams: []store.StreamReport{publishing("live", "s")}})
		for range 5 {
			if got, _ := selectOne(t, e.sel, subscribe("live", "s")); got != talking.Address {
				t.Fatalf("subscribe = %s, want %s", got, talking.Address)
			}
		}
	})
}

func TestMonitor_Run(t *testing.T) {
	st := storetest.Open(t)
	e := newEnv(t, st)
	e.seed()
	n := e.node("g", store.RoleEdge, "10.0.0.1", 1935, "local")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	m := NewMonitor(st, 20*time.Millisecond, 3, nil)
	go func() { done <- m.Run(ctx) }()
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		got, err := st.Node(t.Context(), n.ID)
		if err != nil {
			return err
		}
		if got.State != store.NodeFault {
			return fmt.Errorf("node is %s, want FAULT", got.State)
		}
		return nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}
