package rtmptest

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/shoal-live/shoal/internal/rtmp"
)

// StartServer starts an RTMP server with handler on 127.0.0.1 and a free
// port, logging to t, and returns its address ("127.0.0.1:port"). The
// server stops, and StartServer waits for all its connections to end, when
// the test ends.
func StartServer(t testing.TB, handler rtmp.Handler) string {
	t.Helper()
	srv := &rtmp.Server{
		Addr:         "127.0.0.1:0",
		Handler:      handler,
		Logger:       slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		ReadTimeout:  30 * time.Second,
		WriteTimeout: 10 * time.Second,
	}
	return Run(t, srv)
}

// Run listens and runs srv until the test ends, and returns its address.
func Run(t testing.TB, srv *rtmp.Server) string {
	t.Helper()
	addr, err := srv.Listen()
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("Server.Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Server.Run did not return 10s after cancel")
		}
	})
	return addr.String()
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p[:len(p)-min(1, len(p))]))
	return len(p), nil
}
