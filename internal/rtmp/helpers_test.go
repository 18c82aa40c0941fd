package rtmp_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-live/shoal/internal/flv"
	"github.com/shoal-live/shoal/internal/rtmp"
	"github.com/shoal-live/shoal/internal/rtmp/amf"
	"github.com/shoal-live/shoal/internal/rtmp/chunk"
	"github.com/shoal-live/shoal/internal/rtmp/handshake"
	"github.com/shoal-live/shoal/internal/rtmp/message"
)

// checkFor calls f every interval until it returns nil or timeout passes.
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

// dial connects a ClientConn to app on addr and closes it with the test.
func dial(t testing.TB, addr, app string, opts rtmp.ClientOptions) *rtmp.ClientConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := rtmp.Dial(ctx, "rtmp://"+addr+"/"+app, opts)
	if err != nil {
		t.Fatalf("Dial(%s/%s): %v", addr, app, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// readPackets reads n packets from c.
func readPackets(t testing.TB, c *rtmp.ClientConn, n int) []*flv.Packet {
	t.Helper()
	var got []*flv.Packet
	for len(got) < n {
		p, err := c.ReadPacket()
		if err != nil {
			t.Fatalf("ReadPacket after %d of %d packets: %v", len(got), n, err)
		}
		got = append(got, p)
	}
	return got
}

// rawClient is a hand-driven RTMP client for tests that need to see or send
// exact messages.
type rawClient struct {
	t  testing.TB
	nc net.Conn
	rw *message.ReadWriter
}

// dialTCP connects without the handshake.
func dialTCP(t testing.TB, addr string) *rawClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawClient{t: t, nc: nc, rw: message.NewReadWriter(nc, chunk.Limits{})}
}

// dialRaw connects and does the handshake.
func dialRaw(t testing.TB, addr string) *rawClient {
	t.Helper()
	rc := dialTCP(t, addr)
	if err := handshake.Client(rc.nc); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	return rc
}

// write sends msg.
func (c *rawClient) write(msg message.Message) {
	c.t.Helper()
	if err := c.rw.Write(msg); err != nil {
		c.t.Fatalf("write %T: %v", msg, err)
	}
}

// connect sends connect with the given object encoding and returns the
// answer.
func (c *rawClient) connect(app string, objectEncoding float64) message.Message {
	c.t.Helper()
	c.write(&message.CommandAMF0{Name: "connect", TransactionID: 1, Object: amf.Object{
		{Key: "app", Value: app},
		{Key: "tcUrl", Value: "rtmp://127.0.0.1/" + app},
		{Key: "objectEncoding", Value: objectEncoding},
	}})
	return c.waitCommand("_result", "_error")
}

// read returns the next message that is not protocol control.
func (c *rawClient) read() (message.Message, error) {
	for {
		msg, err := c.rw.Read()
		if err != nil {
			return nil, err
		}
		switch msg.(type) {
		case *message.SetChunkSize, *message.WindowAckSize, *message.SetPeerBandwidth, *message.Acknowledgement:
			continue
		}
		return msg, nil
	}
}

// waitCommand reads until a command with one of names arrives.
func (c *rawClient) waitCommand(names ...string) message.Message {
	c.t.Helper()
	for {
		msg, err := c.read()
		if err != nil {
			c.t.Fatalf("waiting for %v: %v", names, err)
		}
		var name string
		switch m := msg.(type) {
		case *message.CommandAMF0:
			name = m.Name
		case *message.CommandAMF3:
			name = m.Name
		}
		for _, n := range names {
			if n == name {
				return msg
			}
		}
	}
}

// waitClosed waits until the server closes the connection.
func (c *rawClient) waitClosed(timeout time.Duration) error {
	_ = c.nc.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 4096)
	for {
		if _, err := c.nc.Read(buf); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return fmt.Errorf("connection still open after %v", timeout)
			}
			return nil
		}
	}
}

// logRecorder is a slog handler that keeps records and writes them to t.
type logRecorder struct {
	t     testing.TB
	attrs []slog.Attr
	mu    *sync.Mutex
	recs  *[]slog.Record
}

func newLogRecorder(t testing.TB) *logRecorder {
	return &logRecorder{t: t, mu: new(sync.Mutex), recs: new([]slog.Record)}
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(h.attrs...)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Level, r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	h.t.Log(b.String())
	h.mu.Lock()
	*h.recs = append(*h.recs, r)
	h.mu.Unlock()
	return nil
}

func (h *logRecorder) WithAttrs(attrs []slog.Attr) slog.Handler {
	h2 := *h
	h2.attrs = append(append([]slog.Attr(nil), h.attrs...), attrs...)
	return &h2
}

func (h *logRecorder) WithGroup(string) slog.Handler { return h }

// find returns the records with message msg at level and the attribute
// key=value, as "level msg key=value ..." strings.
func (h *logRecorder) find(level slog.Level, msg, key, value string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range *h.recs {
		if r.Level != level || r.Message != msg {
			continue
		}
		match := false
		var b bytes.Buffer
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == key && a.Value.String() == value {
				match = true
			}
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
			return true
		})
		if match {
			out = append(out, b.String())
		}
	}
	return out
}

// rtmpGoroutines returns the stacks of goroutines running code of package
// rtmp (server or client), other than the caller.
func rtmpGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 {
			continue // the caller
		}
		if strings.Contains(g, "shoal/internal/rtmp.") {
			out = append(out, g)
		}
	}
	return out
}
