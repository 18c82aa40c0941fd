package mediaserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/shoal-live/shoal/internal/config"
	"github.com/shoal-live/shoal/internal/rtmp"
)

// testNode is a media node running in this process on free loopback ports.
type testNode struct {
	*Server
	logs *logBuffer
	done chan error
}

// startNode runs a node until the test ends. mutate may change its config.
func startNode(t *testing.T, mutate func(*config.Node)) *testNode {
	t.Helper()
	return startNodeCtx(t, context.Background(), mutate)
}

// wait waits for a node whose context was cancelled to stop.
func (n *testNode) wait(t *testing.T) {
	t.Helper()
	select {
	case err := <-n.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		n.done <- nil
	case <-time.After(10 * time.Second):
		t.Fatal("node did not stop within 10s")
	}
}

// startNodeCtx is startNode with a parent context that stops the node.
func startNodeCtx(t *testing.T, parent context.Context, mutate func(*config.Node)) *testNode {
	t.Helper()
	return startNodePrepared(t, parent, mutate, nil)
}

// startNodePrepared is startNodeCtx with prepare, if not nil, called on the
// server between New and Run.
func startNodePrepared(t *testing.T, parent context.Context, mutate func(*config.Node), prepare func(*Server)) *testNode {
	t.Helper()
	cfg := config.DefaultNode()
	cfg.RTMP.Addr = "127.0.0.1:0"
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Node.DataDir = t.TempDir()
	cfg.Node.ID = "test-node"
	if mutate != nil {
		mutate(&cfg)
	}
	logs := &logBuffer{}
	logger := slog.New(slog.NewTextHandler(io.MultiWriter(logs, testWriter{t}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := New(cfg, logger)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if prepare != nil {
		prepare(srv)
	}
	ctx, cancel := context.WithCancel(parent)
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("node did not stop within 10s")
		}
	})
	select {
	case <-srv.Ready():
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("node not ready within 10s")
	}
	return &testNode{Server: srv, logs: logs, done: done}
}

func (n *testNode) rtmpURL(path string) string {
	return fmt.Sprintf("rtmp://%s/%s", n.RTMPAddr(), path)
}

func (n *testNode) httpURL(path string) string {
	return fmt.Sprintf("http://%s%s", n.HTTPAddr(), path)
}

// checkFor polls f until it returns nil or the timeout passes.
func checkFor(t *testing.T, timeout, interval time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(interval)
	}
}

// needBinary fails the test loudly when a program it needs is missing:
// `make test` installs them.
func needBinary(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			if os.Getenv("SHOAL_ALLOW_MISSING_TOOLS") != "" {
				t.Skipf("SKIPPED LOUDLY: %s not installed (SHOAL_ALLOW_MISSING_TOOLS set); run scripts/test-deps.sh", name)
			}
			t.Fatalf("%s not installed: run scripts/test-deps.sh (make test does)", name)
		}
	}
}

func dial(t *testing.T, url string) *rtmp.ClientConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := rtmp.Dial(ctx, url, rtmp.ClientOptions{})
	if err != nil {
		t.Fatalf("Dial(%s): %v", url, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func isStatus(err error, code string) bool {
	var se *rtmp.StatusError
	return errors.As(err, &se) && se.Code == code
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// logBuffer keeps log lines so tests can check what was logged.
type logBuffer struct {
	mu    chan struct{}
	lines []string
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.lock()
	defer b.unlock()
	b.lines = append(b.lines, string(p))
	return len(p), nil
}

func (b *logBuffer) lock() {
	if b.mu == nil {
		b.mu = make(chan struct{}, 1)
	}
	b.mu <- struct{}{}
}
func (b *logBuffer) unlock() { <-b.mu }

func (b *logBuffer) contains(s string) bool {
	b.lock()
	defer b.unlock()
	for _, l := range b.lines {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}
