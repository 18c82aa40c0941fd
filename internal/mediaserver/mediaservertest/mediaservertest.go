// Package mediaservertest starts in-process media nodes on free loopback
// ports for tests of other packages.
package mediaservertest

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/shoal-live/shoal/internal/config"
	"github.com/shoal-live/shoal/internal/mediaserver"
)

// Node is a media node running in the test process.
type Node struct {
	*mediaserver.Server
}

// Start runs a node with the default configuration on 127.0.0.1 and free
// ports, logging to t at warn level, until the test ends; mutate, if not
// nil, may change the configuration first. Start returns once the node
// listens, and the cleanup waits for it to stop.
func Start(t testing.TB, mutate func(*config.Node)) *Node {
	t.Helper()
	cfg := config.DefaultNode()
	cfg.RTMP.Addr = "127.0.0.1:0"
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Node.DataDir = t.TempDir()
	cfg.Node.ID = "test-node"
	if mutate != nil {
		mutate(&cfg)
	}
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := mediaserver.New(cfg, logger)
	if err != nil {
		t.Fatalf("mediaserver.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("mediaserver Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("media node did not stop within 10s")
		}
	})
	select {
	case <-srv.Ready():
	case err := <-done:
		t.Fatalf("mediaserver Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("media node not ready within 10s")
	}
	return &Node{Server: srv}
}

// RTMPURL returns rtmp://<node's RTMP address>/path.
func (n *Node) RTMPURL(path string) string {
	return fmt.Sprintf("rtmp://%s/%s", n.RTMPAddr(), path)
}

// HTTPURL returns http://<node's HTTP address>path.
func (n *Node) HTTPURL(path string) string {
	return fmt.Sprintf("http://%s%s", n.HTTPAddr(), path)
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p[:len(p)-min(1, len(p))]))
	return len(p), nil
}
