package api

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// lookupClients is the client goroutines per GOMAXPROCS of
// BenchmarkSubscribeLookupHTTP; SHOAL_BENCH_LOOKUP_CLIENTS overrides it.
var lookupClients = func() int {
	if n, err := strconv.Atoi(os.Getenv("SHOAL_BENCH_LOOKUP_CLIENTS")); err == nil && n > 0 {
		return n
	}
	return 4
}()

// BenchmarkSubscribeLookupHTTP measures subscribe lookups through the whole
// REST API over loopback HTTP (keep-alive, 4 × GOMAXPROCS clients), with 100
// nodes and 10,000 streams registered. It reports lookups/s and the p99
// latency seen by the clients.
func BenchmarkSubscribeLookupHTTP(b *testing.B) {
	st, sel, keys := benchFleet(b)
	srv, err := New(Config{Store: st, Selector: sel, AdminToken: "t", ClusterSecret: "s", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var (
		next atomic.Int64
		mu   sync.Mutex
		lat  []time.Duration
	)
	b.SetParallelism(lookupClients) // × GOMAXPROCS clients
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 1024)
		for pb.Next() {
			k := keys[int(next.Add(1))%len(keys)]
			url := fmt.Sprintf("%s%s/event/%s/%s?action=subscribe", ts.URL, BasePath, k[0], k[1])
			t0 := time.Now()
			resp, err := client.Get(url) //nolint:noctx // the benchmark bounds its own lifetime
			if err != nil {
				b.Error(err)
				return
			}
			var out struct{ ServerAddress string }
			err = json.NewDecoder(resp.Body).Decode(&out)
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			local = append(local, time.Since(t0))
			if err != nil || resp.StatusCode != http.StatusOK || out.ServerAddress == "" {
				b.Errorf("GET %s: status %d, %v", url, resp.StatusCode, err)
				return
			}
		}
		mu.Lock()
		lat = append(lat, local...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "lookups/s")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
}
