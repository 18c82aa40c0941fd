package cluster_test

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-live/shoal/internal/cluster"
)

// checkFor polls f every interval until it returns nil, failing the test
// with f's last error after timeout.
func checkFor(t testing.TB, timeout, interval time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", timeout, err)
		}
		time.Sleep(interval)
	}
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// node is a running Cluster with a way to stop it mid-test.
type node struct {
	*cluster.Cluster
	stop func() // cancels Run and waits for it; idempotent
}

// startNode starts a Cluster and stops it when the test ends.
func startNode(t testing.TB, cfg cluster.Config) *node {
	t.Helper()
	return startNodeLogging(t, cfg, testLogger(t))
}

// startNodeLogging is startNode with logger.
func startNodeLogging(t testing.TB, cfg cluster.Config, logger *slog.Logger) *node {
	t.Helper()
	c, err := cluster.New(cfg, logger)
	if err != nil {
		t.Fatalf("cluster.New: %v", err)
	}
	if err := c.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return &node{Cluster: c, stop: stop}
}

// follower collects the records Follow delivers, in a goroutine owned by
// the test.
type follower struct {
	mu      sync.Mutex
	records []cluster.Record
	err     error
	stop    func()
}

func follow(t testing.TB, log *cluster.ObjectLog, obj cluster.ObjectID) *follower {
	t.Helper()
	f := &follower{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := log.Follow(ctx, obj, func(r cluster.Record) {
			f.mu.Lock()
			f.records = append(f.records, r)
			f.mu.Unlock()
		})
		f.mu.Lock()
		f.err = err
		f.mu.Unlock()
	}()
	var once sync.Once
	f.stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(f.stop)
	return f
}

func (f *follower) snapshot() ([]cluster.Record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.records), f.err
}

// waitRecords waits until f has n records and returns them.
func (f *follower) waitRecords(t testing.TB, n int) []cluster.Record {
	t.Helper()
	var got []cluster.Record
	checkFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		var err error
		got, err = f.snapshot()
		if err != nil {
			return fmt.Errorf("follow: %w", err)
		}
		if len(got) < n {
			return fmt.Errorf("have %d records, want %d", len(got), n)
		}
		return nil
	})
	if len(got) != n {
		t.Fatalf("have %d records, want %d: %v", len(got), n, got)
	}
	return got
}

// checkNoLeaks records the goroutines running now and, when the test ends
// (after every later cleanup), fails if goroutines of NATS or of this
// package started by the test are still running. Call it first.
func checkNoLeaks(t *testing.T) {
	t.Helper()
	before := map[string]bool{}
	for _, g := range goroutines() {
		before[goroutineID(g)] = true
	}
	t.Cleanup(func() {
		var leaked []string
		deadline := time.Now().Add(10 * time.Second)
		for {
			leaked = leaked[:0]
			for _, g := range goroutines() {
				if before[goroutineID(g)] || !interesting(g) {
					continue
				}
				leaked = append(leaked, g)
			}
			if len(leaked) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if len(leaked) > 0 {
			t.Errorf("%d goroutines leaked, first:\n%s", len(leaked), leaked[0])
		}
	})
}

func goroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Split(string(buf[:n]), "\n\n")
		}
		buf = make([]byte, 2*len(buf))
	}
}

func goroutineID(stack string) string {
	id, _, _ := strings.Cut(stack, " [")
	return id
}

func interesting(stack string) bool {
	// nats-server's access-time ticker (server/ats) is one per process,
	// kept while any stream store of any server is open; a store created
	// while its server shuts down (a node recreating streams at that
	// moment) can keep it running after every server stopped. It is not
	// ours to stop.
	if strings.Contains(stack, "nats-server/v2/server/ats.") {
		return false
	}
	return strings.Contains(stack, "nats-io/") || strings.Contains(stack, "shoal/internal/cluster")
}
