package cluster_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoal-live/shoal/internal/cluster"
)

// benchPayload is about the size of one shared-object batch (a few
// attributes of a BallControl-like object, AMF encoded).
var benchPayload = make([]byte, 100)

func benchObjects(b *testing.B) []struct {
	name string
	obj  cluster.ObjectID
} {
	b.Helper()
	return []struct {
		name string
		obj  cluster.ObjectID
	}{
		{name: "persistent", obj: ballP},
		{name: "transient", obj: ball},
	}
}

// BenchmarkAppend measures synchronous appends to one object on an
// embedded server reached in-process: one caller, then many.
func BenchmarkAppend(b *testing.B) {
	for _, bo := range benchObjects(b) {
		b.Run(bo.name, func(b *testing.B) {
			n := startNode(b, embedded(b))
			log := n.ObjectLog()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := log.Append(b.Context(), bo.obj, benchPayload); err != nil {
					b.Fatalf("Append: %v", err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "changes/s")
		})
		b.Run(bo.name+"/parallel", func(b *testing.B) {
			n := startNode(b, embedded(b))
			log := n.ObjectLog()
			b.SetParallelism(32) // many clients of one node
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := log.Append(context.Background(), bo.obj, benchPayload); err != nil {
						b.Errorf("Append: %v", err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "changes/s")
		})
	}
}

// BenchmarkAppendAsync measures pipelined appends to one object on an
// embedded server reached in-process, counting until the last ack.
func BenchmarkAppendAsync(b *testing.B) {
	for _, bo := range benchObjects(b) {
		b.Run(bo.name, func(b *testing.B) {
			n := startNode(b, embedded(b))
			log := n.ObjectLog()
			var wg sync.WaitGroup
			var failed atomic.Int64
			done := func(_ uint64, err error) {
				if err != nil {
					failed.Add(1)
				}
				wg.Done()
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				wg.Add(1)
				if err := log.AppendAsync(b.Context(), bo.obj, benchPayload, done); err != nil {
					b.Fatalf("AppendAsync: %v", err)
				}
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "changes/s")
			if f := failed.Load(); f > 0 {
				b.Fatalf("%d appends failed", f)
			}
		})
	}
}

// BenchmarkAppendFollowLatency measures how long a change takes from
// AppendAsync on one node to Follow's callback on another node, both
// connected over loopback TCP to one embedded server, at 1,000 changes/s.
// It reports p50, p99 and max in milliseconds.
func BenchmarkAppendFollowLatency(b *testing.B) {
	for _, bo := range benchObjects(b) {
		b.Run(bo.name, func(b *testing.B) {
			server := startNode(b, cluster.Config{Name: "manager", Embedded: cluster.EmbeddedConfig{
				Listen: "127.0.0.1:0", StoreDir: b.TempDir(),
			}})
			writer := startNode(b, cluster.Config{URL: server.ClientURL(), Name: "node-a"})
			reader := startNode(b, cluster.Config{URL: server.ClientURL(), Name: "node-b"})

			start := time.Now()
			var mu sync.Mutex
			lat := make([]time.Duration, 0, 4096)
			obj := bo.obj
			obj.Name = fmt.Sprintf("latency-%d", time.Now().UnixNano())
			ctx, cancel := context.WithCancel(context.Background())
			followed := make(chan struct{})
			go func() {
				defer close(followed)
				err := reader.ObjectLog().Follow(ctx, obj, func(r cluster.Record) {
					sent := time.Duration(binary.BigEndian.Uint64(r.Data))
					mu.Lock()
					lat = append(lat, time.Since(start)-sent)
					mu.Unlock()
				})
				if err != nil {
					b.Errorf("Follow: %v", err)
				}
			}()
			defer func() { cancel(); <-followed }()

			payload := make([]byte, len(benchPayload))
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			var failed atomic.Int64
			done := func(_ uint64, err error) {
				if err != nil {
					failed.Add(1)
				}
			}
			b.ResetTimer()
			for b.Loop() {
				<-tick.C
				binary.BigEndian.PutUint64(payload, uint64(time.Since(start)))
				data := slices.Clone(payload)
				if err := writer.ObjectLog().AppendAsync(b.Context(), obj, data, done); err != nil {
					b.Fatalf("AppendAsync: %v", err)
				}
			}
			b.StopTimer()
			checkFor(b, 10*time.Second, 10*time.Millisecond, func() error {
				mu.Lock()
				defer mu.Unlock()
				if len(lat) < b.N {
					return fmt.Errorf("followed %d of %d changes", len(lat), b.N)
				}
				return nil
			})
			if f := failed.Load(); f > 0 {
				b.Fatalf("%d appends failed", f)
			}
			mu.Lock()
			defer mu.Unlock()
			slices.Sort(lat)
			pct := func(p float64) float64 {
				return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / float64(time.Millisecond)
			}
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
			b.ReportMetric(pct(1), "max-ms")
		})
	}
}
