package sobench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/shoal-live/shoal/internal/mediaserver/mediaservertest"
)

func TestRun_BadConfig(t *testing.T) {
	ok := Config{WriterURL: "rtmp://127.0.0.1:1/app", Readers: 1, Objects: 1, Rate: 10, Duration: time.Second}
	tests := []struct {
		name   string
		mutate func(*Config)
	}{
		{name: "no writer url", mutate: func(c *Config) { c.WriterURL = "" }},
		{name: "no readers", mutate: func(c *Config) { c.Readers = 0 }},
		{name: "no objects", mutate: func(c *Config) { c.Objects = 0 }},
		{name: "no rate in latency mode", mutate: func(c *Config) { c.Rate = 0 }},
		{name: "no duration", mutate: func(c *Config) { c.Duration = 0 }},
		{name: "negative in-flight", mutate: func(c *Config) { c.InFlight = -1 }},
		{name: "encoding 1", mutate: func(c *Config) { c.Encoding = 1 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.mutate(&cfg)
			if _, err := Run(context.Background(), cfg); !errors.Is(err, ErrConfig) {
				t.Errorf("Run = %v, want ErrConfig", err)
			}
		})
	}
}

func TestRun_ConnectFailure(t *testing.T) {
	cfg := Config{
		WriterURL: "rtmp://127.0.0.1:1/app", Readers: 1, Objects: 1, Rate: 10, Duration: time.Second,
		ConnectTimeout: 2 * time.Second,
	}
	if _, err := Run(context.Background(), cfg); err == nil || errors.Is(err, ErrConfig) {
		t.Errorf("Run against a closed port = %v, want a connect error", err)
	}
}

// TestRun_InProcessNode runs both modes for a few hundred changes against
// a node in this process and checks that every change was accounted for.
func TestRun_InProcessNode(t *testing.T) {
	node := mediaservertest.Start(t, nil)
	url := node.RTMPURL("sobench")
	tests := []struct {
		name string
		cfg  Config
	}{
		{name: "latency amf0", cfg: Config{Rate: 1000, Duration: 300 * time.Millisecond, Readers: 2, Objects: 2}},
		{name: "latency amf3", cfg: Config{Rate: 500, Duration: 300 * time.Millisecond, Readers: 1, Objects: 1, Encoding: 3}},
		{name: "throughput", cfg: Config{Max: true, Duration: 200 * time.Millisecond, Readers: 3, Objects: 2, InFlight: 16}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.WriterURL, cfg.ReaderURL = url, url
			cfg.Settle = 20 * time.Second
			cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
			rep, err := Run(t.Context(), cfg)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			var text bytes.Buffer
			if err := rep.WriteText(&text); err != nil {
				t.Fatalf("WriteText: %v", err)
			}
			t.Logf("report:\n%s", text.String())
			if !rep.Complete || !rep.Settled || rep.Missing != 0 || rep.Duplicates != 0 {
				t.Errorf("complete %v, settled %v, missing %d, duplicates %d; want a complete run",
					rep.Complete, rep.Settled, rep.Missing, rep.Duplicates)
			}
			if !cfg.Max {
				want := uint64(cfg.Rate * cfg.Duration.Seconds())
				if rep.Sent != want {
					t.Errorf("sent %d changes at %g/s for %s, want %d", rep.Sent, cfg.Rate, cfg.Duration, want)
				}
			} else if rep.Sent == 0 || rep.AcceptedPerS <= 0 {
				t.Errorf("throughput run sent %d, accepted %g/s; want some", rep.Sent, rep.AcceptedPerS)
			}
			wantDelivered := rep.Accepted * uint64(cfg.Readers)
			var delivered uint64
			for _, rr := range rep.PerReader {
				delivered += rr.Delivered
			}
			if delivered != wantDelivered || rep.Delivery.Count != wantDelivered {
				t.Errorf("delivered %d changes with %d latencies, want %d", delivered, rep.Delivery.Count, wantDelivered)
			}
			if rep.Delivery.P50Ms <= 0 || rep.Delivery.P99Ms < rep.Delivery.P50Ms || rep.Delivery.MaxMs < rep.Delivery.P99Ms {
				t.Errorf("delivery latency %+v is not ordered", rep.Delivery)
			}
			if _, err := json.Marshal(rep); err != nil {
				t.Errorf("json.Marshal(report): %v", err)
			}
		})
	}
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// BenchmarkInProcess runs the throughput and latency modes against a node
// in this process, so that `go test -bench InProcess -cpuprofile` profiles
// the node (and the load generator) without a pprof endpoint. Each
// iteration is one run of one second.
func BenchmarkInProcess(b *testing.B) {
	node := mediaservertest.Start(b, nil)
	url := node.RTMPURL("sobench")
	for _, bc := range []struct {
		name string
		cfg  Config
	}{
		{name: "max/objects=1/readers=1", cfg: Config{Max: true, Objects: 1, Readers: 1}},
		{name: "max/objects=1/readers=20", cfg: Config{Max: true, Objects: 1, Readers: 20}},
		{name: "max/objects=16/readers=1", cfg: Config{Max: true, Objects: 16, Readers: 1, InFlight: 8}},
		{name: "rate=1000/readers=1", cfg: Config{Rate: 1000, Objects: 1, Readers: 1}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var accepted, delivered, p99 float64
			for b.Loop() {
				cfg := bc.cfg
				cfg.WriterURL, cfg.Duration, cfg.Encoding = url, time.Second, 3
				rep, err := Run(b.Context(), cfg)
				if err != nil {
					b.Fatalf("Run: %v", err)
				}
				if !rep.Complete {
					b.Errorf("run incomplete: missing %d, lost %v", rep.Missing, rep.Lost)
				}
				accepted += rep.AcceptedPerS
				delivered += rep.DeliveredPerS
				p99 = max(p99, rep.Delivery.P99Ms)
			}
			b.ReportMetric(accepted/float64(b.N), "accepted/s")
			b.ReportMetric(delivered/float64(b.N), "delivered/s")
			b.ReportMetric(p99, "p99-ms")
		})
	}
}
