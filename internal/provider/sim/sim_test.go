package sim

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shoal-live/shoal/internal/provider"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func TestProvider_BootDelayAndUsage(t *testing.T) {
	now := t0
	p := New(Config{BootDelay: 30 * time.Second, Now: func() time.Time { return now }})
	ctx := t.Context()
	edge, err := p.Create(ctx, provider.Spec{Group: "g", Role: "edge", Metadata: map[string]string{"a": "1"}})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if edge.State != provider.StatePending || !edge.CreatedAt.Equal(t0) {
		t.Fatalf("Create = %v at %v, want PENDING at %v", edge.State, edge.CreatedAt, t0)
	}
	if at, ok := p.ReadyAt(edge.ID); !ok || !at.Equal(t0.Add(30*time.Second)) {
		t.Errorf("ReadyAt = %v, %v; want %v", at, ok, t0.Add(30*time.Second))
	}

	now = t0.Add(29 * time.Second)
	if got, _ := p.Get(ctx, edge.ID); got.State != provider.StatePending {
		t.Errorf("state at 29s = %v, want PENDING", got.State)
	}
	origin, _ := p.Create(ctx, provider.Spec{Group: "g", Role: "origin"})
	now = t0.Add(30 * time.Second)
	if got, _ := p.Get(ctx, edge.ID); got.State != provider.StateRunning {
		t.Errorf("state at 30s = %v, want RUNNING", got.State)
	}
	want := map[string]RoleCount{"edge": {Running: 1}, "origin": {Pending: 1}}
	if diff := cmp.Diff(want, p.Counts()); diff != "" {
		t.Errorf("Counts at 30s (-want +got):\n%s", diff)
	}

	if err := p.UpdateMetadata(ctx, edge.ID, map[string]string{"a": "", "b": "2"}); err != nil {
		t.Fatalf("UpdateMetadata: %v", err)
	}
	list, _ := p.List(ctx)
	if len(list) != 2 || list[0].ID != edge.ID || list[1].ID != origin.ID {
		t.Fatalf("List = %v, want edge then origin", list)
	}
	if diff := cmp.Diff(map[string]string{"b": "2"}, list[0].Metadata); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}

	now = t0.Add(time.Hour)
	if err := p.Delete(ctx, edge.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	now = t0.Add(2 * time.Hour)
	wantUsage := map[string]time.Duration{"edge": time.Hour, "origin": 2*time.Hour - 29*time.Second}
	if diff := cmp.Diff(wantUsage, p.Usage()); diff != "" {
		t.Errorf("Usage (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(Stats{Created: 2, Deleted: 1}, p.Stats()); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
	if _, err := p.Get(ctx, edge.ID); !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("Get after Delete = %v, want ErrNotFound", err)
	}
	if err := p.Delete(ctx, edge.ID); !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("second Delete = %v, want ErrNotFound", err)
	}
	if err := p.UpdateMetadata(ctx, edge.ID, nil); !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("UpdateMetadata after Delete = %v, want ErrNotFound", err)
	}
}

func TestProvider_FailureRateIsSeeded(t *testing.T) {
	failed := func(seed uint64) []bool {
		now := t0
		p := New(Config{BootDelay: time.Second, FailureRate: 0.3, Seed: seed, Now: func() time.Time { return now }})
		var ids []string
		for range 200 {
			in, err := p.Create(t.Context(), provider.Spec{Role: "edge"})
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			ids = append(ids, in.ID)
		}
		now = t0.Add(time.Hour)
		out := make([]bool, len(ids))
		n := 0
		for i, id := range ids {
			in, _ := p.Get(t.Context(), id)
			out[i] = in.State == provider.StatePending
			if out[i] {
				n++
				if _, ok := p.ReadyAt(id); ok {
					t.Errorf("ReadyAt(%s) ok for a failed launch", id)
				}
			}
		}
		if n != p.Stats().FailedLaunches {
			t.Errorf("%d instances stuck Pending, Stats().FailedLaunches = %d", n, p.Stats().FailedLaunches)
		}
		if n < 40 || n > 80 {
			t.Errorf("seed %d: %d of 200 launches failed, want about 60 (30%%)", seed, n)
		}
		return out
	}
	a, b, c := failed(1), failed(1), failed(2)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("same seed, different failed launches:\n%s", diff)
	}
	if cmp.Equal(a, c) {
		t.Error("seeds 1 and 2 failed the same launches")
	}
}

func TestProvider_RealTimeInSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{BootDelay: 45 * time.Second})
		in, err := p.Create(t.Context(), provider.Spec{Role: "origin"})
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		time.Sleep(44 * time.Second)
		if got, _ := p.Get(t.Context(), in.ID); got.State != provider.StatePending {
			t.Errorf("state after 44s = %v, want PENDING", got.State)
		}
		time.Sleep(time.Second)
		if got, _ := p.Get(t.Context(), in.ID); got.State != provider.StateRunning {
			t.Errorf("state after 45s = %v, want RUNNING", got.State)
		}
	})
}
