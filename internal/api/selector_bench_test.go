package api

import (
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/shoal-live/shoal/internal/store"
	"github.com/shoal-live/shoal/internal/store/storetest"
)

// BenchmarkSubscribeLookup measures subscriber lookups in a cluster of 100
// nodes (20 origins, 80 edges) carrying 10,000 streams. The target is
// 10,000 lookups/s with p99 ≤ 5 ms; it reports p99-ns.
// benchFleet registers 20 origins and 80 edges in service, with 10,000
// streams published on the origins, and returns the store, a selector fed
// with their reports and the stream keys.
func benchFleet(b testing.TB) (*store.Store, *Selector, [][2]string) {
	b.Helper()
	st := storetest.Open(b)
	ctx := b.Context()
	if err := st.CreateLaunchConfig(ctx, store.LaunchConfig{Name: "lc"}); err != nil {
		b.Fatal(err)
	}
	if err := st.CreatePolicy(ctx, store.ScalePolicy{Name: "sp"}); err != nil {
		b.Fatal(err)
	}
	if _, err := st.CreateGroup(ctx, store.NodeGroup{Name: "g", Regions: []string{"r"}, LaunchConfig: "lc", ScalePolicy: "sp"}); err != nil {
		b.Fatal(err)
	}
	sel := NewSelector(st, DefaultWeights(), time.Minute, slog.New(slog.DiscardHandler))
	const origins, edges, streams = 20, 80, 10000
	var keys [][2]string
	for i := range origins + edges {
		role := store.RoleEdge
		if i < origins {
			role = store.RoleOrigin
		}
		n, err := st.CreateNode(ctx, store.Node{
			Group: "g", Role: role, Region: "r", Zone: "r-a",
			Address: fmt.Sprintf("10.0.%d.%d", i/250, i%250+1), RTMPPort: 1935, HTTPPort: 5080, Capacity: 1000,
		})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := st.SetNodeState(ctx, n.ID, store.NodeInService, "bench"); err != nil {
			b.Fatal(err)
		}
		r := store.Report{Connections: i * 7 % 500, Subscribers: i * 5 % 400, MemoryBytes: int64(i) << 24}
		if role == store.RoleOrigin {
			for s := i; s < streams; s += origins {
				k := [2]string{"live", fmt.Sprintf("stream%05d", s)}
				keys = append(keys, k)
				r.Streams = append(r.Streams, store.StreamReport{Scope: k[0], Name: k[1], Publishing: true})
			}
		}
		sel.Observe(ctx, n.ID, r)
	}
	if len(keys) != streams {
		b.Fatalf("%d streams, want %d", len(keys), streams)
	}
	return st, sel, keys
}

func BenchmarkSubscribeLookup(b *testing.B) {
	ctx := b.Context()
	_, sel, keys := benchFleet(b)
	lat := make([]time.Duration, 0, min(b.N, 1_000_000))
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		k := keys[i%len(keys)]
		i++
		start := time.Now()
		nodes, err := sel.Select(ctx, Query{Action: ActionSubscribe, Scope: k[0], Name: k[1], Endpoints: 1})
		d := time.Since(start)
		if err != nil || len(nodes) != 1 || nodes[0].Role != store.RoleEdge {
			b.Fatalf("Select(%v) = %v, %v", k, nodes, err)
		}
		if len(lat) < cap(lat) {
			lat = append(lat, d)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
	}
}
