package cluster_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shoal-live/shoal/internal/cluster"
	"github.com/shoal-live/shoal/internal/cluster/clustertest"
)

func head(t testing.TB, n *node, obj cluster.ObjectID) uint64 {
	t.Helper()
	seq, err := n.ObjectLog().Head(t.Context(), obj)
	if err != nil {
		t.Fatalf("Head(%s): %v", obj, err)
	}
	return seq
}

func appendTo(t testing.TB, n *node, obj cluster.ObjectID) {
	t.Helper()
	if _, err := n.ObjectLog().Append(t.Context(), obj, []byte("x")); err != nil {
		t.Fatalf("Append(%s): %v", obj, err)
	}
}

func TestJanitorSweep(t *testing.T) {
	checkNoLeaks(t)
	url := clustertest.StartNATS(t)
	const ttl = 2 * time.Second
	a := startNode(t, cluster.Config{URL: url, Name: "node-a", PresenceTTL: ttl})
	b := startNode(t, cluster.Config{URL: url, Name: "node-b", PresenceTTL: ttl})
	ctx := t.Context()

	var (
		orphan     = cluster.ObjectID{Scope: "live/room1", Name: "orphan"}
		nested     = cluster.ObjectID{Scope: "live/room1/orphan", Name: "node-b"} // looks like orphan's presence key
		present    = cluster.ObjectID{Scope: "live/room1", Name: "present"}
		loaded     = cluster.ObjectID{Scope: "live/room1", Name: "loaded"}
		persistent = cluster.ObjectID{Scope: "live/room1", Name: "orphan", Persistent: true}
		recent     = cluster.ObjectID{Scope: "live/room1", Name: "recent"}
	)
	for _, obj := range []cluster.ObjectID{orphan, nested, present, loaded, persistent} {
		appendTo(t, a, obj)
	}
	if err := b.Presence().Join(ctx, present, "node-b"); err != nil {
		t.Fatalf("Join: %v", err)
	}
	if err := b.Presence().Join(ctx, nested, "node-b"); err != nil {
		t.Fatalf("Join: %v", err)
	}
	// Presence of the persistent twin must not protect the transient one.
	if err := b.Presence().Join(ctx, cluster.ObjectID{Scope: orphan.Scope, Name: orphan.Name, Persistent: true}, "node-b"); err != nil {
		t.Fatalf("Join: %v", err)
	}

	j := cluster.NewJanitor(a.Cluster, cluster.JanitorConfig{
		Loaded: func() []cluster.ObjectID { return []cluster.ObjectID{loaded} },
	}, testLogger(t))

	// Wait until the entries are older than Linger (0) + PresenceTTL.
	checkFor(t, 5*ttl, 100*time.Millisecond, func() error {
		got, err := a.ObjectLog().Orphans(ctx, ttl, a.Presence())
		if err != nil {
			return err
		}
		if !slices.Contains(got, orphan) {
			return fmt.Errorf("orphans = %v, %s not yet", got, orphan)
		}
		return nil
	})
	appendTo(t, a, recent)

	dropped, err := j.Sweep(ctx)
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	if diff := cmp.Diff([]cluster.ObjectID{orphan}, dropped); diff != "" {
		t.Errorf("Sweep dropped (-want +got):\n%s", diff)
	}
	if seq := head(t, a, orphan); seq != 0 {
		t.Errorf("Head(%s) = %d after sweep, want 0 (dropped)", orphan, seq)
	}
	for _, obj := range []cluster.ObjectID{nested, present, loaded, persistent, recent} {
		if head(t, a, obj) == 0 {
			t.Errorf("%s dropped, want kept", obj)
		}
	}

	// An empty stream sweeps to nothing; a second sweep finds nothing new.
	dropped, err = j.Sweep(ctx)
	if err != nil || len(dropped) != 0 {
		t.Errorf("second Sweep = %v, %v; want nothing", dropped, err)
	}
}

func TestJanitorRunDropsObjectOfDeadNode(t *testing.T) {
	checkNoLeaks(t)
	url := clustertest.StartNATS(t)
	const ttl = time.Second
	a := startNode(t, cluster.Config{URL: url, Name: "node-a", PresenceTTL: ttl})
	b := startNode(t, cluster.Config{URL: url, Name: "node-b", PresenceTTL: ttl})
	ctx := t.Context()

	obj := cluster.ObjectID{Scope: "live", Name: "chat"}
	if err := b.Presence().Join(ctx, obj, "node-b"); err != nil {
		t.Fatalf("Join: %v", err)
	}
	appendTo(t, b, obj)

	j := cluster.NewJanitor(a.Cluster, cluster.JanitorConfig{Linger: 200 * time.Millisecond, Interval: 100 * time.Millisecond}, testLogger(t))
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- j.Run(runCtx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	// While node-b runs, its presence keeps the object, well past the
	// threshold.
	start := time.Now()
	checkFor(t, 10*time.Second, 100*time.Millisecond, func() error {
		if head(t, a, obj) == 0 {
			t.Fatalf("%s dropped %v after node-b joined while node-b runs", obj, time.Since(start))
		}
		if time.Since(start) < 3*ttl {
			return fmt.Errorf("only %v", time.Since(start))
		}
		return nil
	})

	b.stop() // stops refreshing presence, as if killed
	checkFor(t, 10*ttl, 50*time.Millisecond, func() error {
		if seq := head(t, a, obj); seq != 0 {
			return fmt.Errorf("%s still at %d after node-b died", obj, seq)
		}
		return nil
	})
}
