package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoal-live/shoal/internal/flv"
	"github.com/shoal-live/shoal/internal/rtmp"
	"github.com/shoal-live/shoal/internal/rtmp/message"
	"github.com/shoal-live/shoal/internal/rtmp/rtmptest"
	"github.com/shoal-live/shoal/internal/stream"
)

// originHandler is a minimal origin: publish and play over a registry.
type originHandler struct {
	reg *stream.Registry

	mu        sync.Mutex
	flashVers []string // of the connections that played
}

func (h *originHandler) Connect(*rtmp.ServerConn) error { return nil }

func (h *originHandler) Publish(_ *rtmp.ServerConn, s *rtmp.ServerStream) (rtmp.Publisher, error) {
	p, err := h.reg.Publish(s.Scope() + "/" + s.Name())
	if errors.Is(err, stream.ErrStreamTaken) {
		return nil, rtmp.ErrStreamTaken
	}
	return p, err
}

func (h *originHandler) Play(c *rtmp.ServerConn, s *rtmp.ServerStream) (rtmp.Source, error) {
	fv, _ := c.ConnectObject().Get("flashVer")
	h.mu.Lock()
	h.flashVers = append(h.flashVers, fmt.Sprint(fv))
	h.mu.Unlock()
	sub, err := h.reg.Subscribe(s.Scope()+"/"+s.Name(), false)
	if errors.Is(err, stream.ErrNotFound) {
		return nil, rtmp.ErrStreamNotFound
	}
	return sub, err
}

func (h *originHandler) SharedObject(*rtmp.ServerConn, *message.SharedObject) {}
func (h *originHandler) Disconnect(*rtmp.ServerConn)                          {}

// origin is an RTMP server over its own registry.
type origin struct {
	addr string
	reg  *stream.Registry
	h    *originHandler
}

func startOrigin(t *testing.T, grace time.Duration) *origin {
	t.Helper()
	reg := stream.NewRegistry(stream.Config{PublisherGrace: grace}, testLogger(t).With("node", "origin"))
	h := &originHandler{reg: reg}
	return &origin{addr: rtmptest.StartServer(t, h), reg: reg, h: h}
}

func (o *origin) url(key string) string { return "rtmp://" + o.addr + "/" + key }

// subscribers returns the origin's subscriber count of key.
func (o *origin) subscribers(key string) int {
	for _, in := range o.reg.Streams() {
		if in.Key == key {
			return in.Subscribers
		}
	}
	return 0
}

// publisher publishes a synthetic stream (GOPs of 10 frames, one every
// 10ms) with the Go client until stopped. Its timestamps start at base,
// to tell publishers apart.
type publisher struct {
	c      *rtmp.ClientConn
	cancel context.CancelFunc
	done   chan struct{}
}

func startPublisher(t *testing.T, o *origin, key string, base uint32) *publisher {
	t.Helper()
	i := strings.LastIndexByte(key, '/')
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, err := rtmp.Dial(ctx, "rtmp://"+o.addr+"/"+key[:i], rtmp.ClientOptions{})
	if err != nil {
		t.Fatalf("publisher Dial: %v", err)
	}
	if err := c.Publish(ctx, key[i+1:]); err != nil {
		c.Close()
		t.Fatalf("Publish: %v", err)
	}
	pctx, pcancel := context.WithCancel(context.Background())
	p := &publisher{c: c, cancel: pcancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		_ = c.WritePacket(rtmptest.AVCSequenceHeader(base))
		_ = c.WritePacket(rtmptest.AACSequenceHeader(base))
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for f := 0; ; f++ {
			ts := base + uint32(f*40)
			v := rtmptest.AVCInterFrame(ts, f%10, 300)
			if f%10 == 0 {
				v = rtmptest.AVCKeyframe(ts, 1000)
			}
			if c.WritePacket(v) != nil || c.WritePacket(rtmptest.AACFrame(ts, 50)) != nil {
				return
			}
			select {
			case <-pctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(p.stop)
	return p
}

// stop ends the publisher and closes its connection.
func (p *publisher) stop() {
	p.cancel()
	<-p.done
	p.c.Close()
}

// player is a local subscriber of the edge registry.
type player struct {
	sub  *stream.Subscriber
	pkts []*flv.Packet
}

func newPlayer(t *testing.T, r *Relay, reg *stream.Registry, key string) *player {
	t.Helper()
	if err := r.Ensure(key); err != nil {
		t.Fatalf("Ensure(%s): %v", key, err)
	}
	sub, err := reg.Subscribe(key, true)
	if err != nil {
		t.Fatalf("Subscribe(%s): %v", key, err)
	}
	t.Cleanup(sub.Close)
	return &player{sub: sub}
}

// read reads until the player holds n more packets, or fails the test.
func (p *player) read(t *testing.T, n int) []*flv.Packet {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	start := len(p.pkts)
	for len(p.pkts)-start < n {
		var err error
		p.pkts, err = p.sub.Read(ctx, p.pkts)
		if err != nil {
			t.Fatalf("Read after %d packets: %v", len(p.pkts)-start, err)
		}
	}
	return p.pkts[start:]
}

// startRelay runs a relay over a new edge registry until the test ends.
func startRelay(t *testing.T, cfg Config, loc originLocator, grace time.Duration) (*Relay, *stream.Registry) {
	t.Helper()
	reg := stream.NewRegistry(stream.Config{PublisherGrace: grace}, testLogger(t).With("node", "edge"))
	r := New(cfg, loc, reg, testLogger(t).With("component", "relay"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Run did not return 10s after cancel")
		}
	})
	return r, reg
}

// locatorTo returns a locator answering u for every key, counting calls.
func locatorTo(u func(key string) string, calls *atomic.Int32) LocatorFunc {
	return func(_ context.Context, key string) (string, error) {
		calls.Add(1)
		if s := u(key); s != "" {
			return s, nil
		}
		return "", fmt.Errorf("lookup %s: %w", key, ErrStreamNotFound)
	}
}

func fastConfig() Config {
	return Config{IdleTimeout: time.Second, RetryMin: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond}
}

// checkStartsOnKeyframe checks that the sequence headers come first and
// the first video frame is a keyframe.
func checkStartsOnKeyframe(t *testing.T, pkts []*flv.Packet) {
	t.Helper()
	sawHeader := false
	for _, p := range pkts {
		if p.Type != flv.PacketVideo {
			continue
		}
		if p.SequenceHeader {
			sawHeader = true
			continue
		}
		if !sawHeader {
			t.Errorf("video frame before the video sequence header")
		}
		if !p.Keyframe {
			t.Errorf("first video frame at %d ms is not a keyframe", p.Timestamp)
		}
		return
	}
	t.Errorf("no video frame among %d packets", len(pkts))
}

func TestRelay_PullsOnceAndFansOut(t *testing.T) {
	o := startOrigin(t, time.Second)
	startPublisher(t, o, "live/cam", 0)
	var lookups atomic.Int32
	r, reg := startRelay(t, fastConfig(), locatorTo(func(k string) string { return o.url(k) }, &lookups), time.Second)

	p1 := newPlayer(t, r, reg, "live/cam")
	checkStartsOnKeyframe(t, p1.read(t, 30))
	p2 := newPlayer(t, r, reg, "live/cam")
	checkStartsOnKeyframe(t, p2.read(t, 30))

	if n := o.subscribers("live/cam"); n != 1 {
		t.Errorf("origin subscribers = %d, want 1 (one pull for both players)", n)
	}
	if n := lookups.Load(); n != 1 {
		t.Errorf("%d origin lookups, want 1", n)
	}
	if !r.Pulling("live/cam") {
		t.Error("Pulling(live/cam) = false while pulling")
	}
	pulls := r.Pulls()
	if len(pulls) != 1 || !pulls[0].Connected || pulls[0].Subscribers != 2 || pulls[0].OriginURL != o.url("live/cam") {
		t.Errorf("Pulls() = %+v, want one connected pull with 2 subscribers", pulls)
	}
	o.h.mu.Lock()
	if len(o.h.flashVers) != 1 || !IsRelay(o.h.flashVers[0]) {
		t.Errorf("origin players' flashVer = %q, want one relay (%s)", o.h.flashVers, FlashVer)
	}
	o.h.mu.Unlock()
}

func TestRelay_EnsureErrors(t *testing.T) {
	tests := []struct {
		name     string
		loc      LocatorFunc
		wantErr  error  // errors.Is
		wantText string // or contained in the message
	}{
		{name: "not published", loc: func(context.Context, string) (string, error) {
			return "", fmt.Errorf("manager: %w", ErrStreamNotFound)
		}, wantErr: ErrStreamNotFound},
		{name: "manager down", loc: func(context.Context, string) (string, error) {
			return "", errors.New("connection refused")
		}, wantText: "look up origin: connection refused"},
		{name: "bad url", loc: func(context.Context, string) (string, error) {
			return "http://origin/live/cam", nil
		}, wantText: "origin url"},
		{name: "slow manager", loc: func(ctx context.Context, _ string) (string, error) {
			<-ctx.Done()
			return "", ctx.Err()
		}, wantErr: context.DeadlineExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := fastConfig()
			cfg.LookupTimeout = 200 * time.Millisecond
			r, _ := startRelay(t, cfg, tc.loc, time.Second)
			start := time.Now()
			err := r.Ensure("live/cam")
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("Ensure = %v, want %v", err, tc.wantErr)
			}
			if tc.wantText != "" && (err == nil || !strings.Contains(err.Error(), tc.wantText)) {
				t.Errorf("Ensure = %v, want an error containing %q", err, tc.wantText)
			}
			if tc.wantText != "" && errors.Is(err, ErrStreamNotFound) {
				t.Errorf("Ensure = %v, must not be ErrStreamNotFound", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Ensure took %s, want at most about the lookup timeout", d)
			}
			if r.Pulling("live/cam") {
				t.Error("a failed Ensure left a pull")
			}
		})
	}
}

func TestRelay_StopsWhenIdle(t *testing.T) {
	o := startOrigin(t, time.Second)
	startPublisher(t, o, "live/cam", 0)
	var lookups atomic.Int32
	cfg := fastConfig()
	cfg.IdleTimeout = 500 * time.Millisecond
	r, reg := startRelay(t, cfg, locatorTo(func(k string) string { return o.url(k) }, &lookups), time.Second)

	// A pull nobody subscribes to stops after the idle timeout too.
	if err := r.Ensure("live/cam"); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		if r.Pulling("live/cam") || o.subscribers("live/cam") != 0 {
			return fmt.Errorf("pulling %v, origin subscribers %d; want stopped", r.Pulling("live/cam"), o.subscribers("live/cam"))
		}
		return nil
	})

	p := newPlayer(t, r, reg, "live/cam")
	p.read(t, 10)
	// Longer than the idle timeout with a subscriber: the pull goes on.
	deadline := time.Now().Add(2 * cfg.IdleTimeout)
	for time.Now().Before(deadline) {
		p.read(t, 5)
	}
	if !r.Pulling("live/cam") || o.subscribers("live/cam") != 1 {
		t.Fatalf("pull stopped while a player was attached")
	}
	left := time.Now()
	p.sub.Close()
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if n := o.subscribers("live/cam"); n != 0 {
			return fmt.Errorf("origin subscribers = %d after the last player left, want 0", n)
		}
		return nil
	})
	if d := time.Since(left); d < cfg.IdleTimeout {
		t.Errorf("pull stopped %s after the last player left, want after the %s idle timeout", d, cfg.IdleTimeout)
	}
	if r.Pulling("live/cam") {
		t.Error("Pulling = true after the pull stopped")
	}
}

func TestRelay_ReconnectsWhenOriginReturns(t *testing.T) {
	const secondBase = 1_000_000
	// The origin ends its subscribers at once when the publisher leaves,
	// so the pull loses its origin; the edge keeps its players for 5s.
	o := startOrigin(t, -1)
	pub := startPublisher(t, o, "live/cam", 0)
	var lookups atomic.Int32
	r, reg := startRelay(t, fastConfig(), locatorTo(func(k string) string { return o.url(k) }, &lookups), 5*time.Second)
	p := newPlayer(t, r, reg, "live/cam")
	var notices []stream.Notice
	p.sub.OnNotice(func(n stream.Notice) { notices = append(notices, n) })
	p.read(t, 20)

	pub.stop()
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if pulls := r.Pulls(); len(pulls) != 1 || pulls[0].Connected {
			return fmt.Errorf("pulls %+v, want one pull, disconnected", pulls)
		}
		return nil
	})
	startPublisher(t, o, "live/cam", secondBase)
	// The same player gets the new publisher's frames.
	checkFor(t, 10*time.Second, time.Millisecond, func() error {
		for _, pk := range p.read(t, 1) {
			if pk.Type == flv.PacketVideo && !pk.SequenceHeader && pk.Timestamp >= secondBase {
				return nil
			}
		}
		return errors.New("no frame of the second publisher yet")
	})
	if n := lookups.Load(); n < 2 {
		t.Errorf("%d origin lookups, want the origin looked up again on reconnect", n)
	}
	// publish (the first pull), unpublish (origin lost), publish (back).
	want := []stream.Notice{stream.NoticePublish, stream.NoticeUnpublish, stream.NoticePublish}
	if !slices.Equal(notices, want) {
		t.Errorf("player notices = %v, want %v", notices, want)
	}
	if n := o.subscribers("live/cam"); n != 1 {
		t.Errorf("origin subscribers = %d after the reconnect, want 1", n)
	}
}

func TestRelay_OriginGoneForGood(t *testing.T) {
	o := startOrigin(t, -1)
	pub := startPublisher(t, o, "live/cam", 0)
	var published atomic.Bool
	published.Store(true)
	var lookups atomic.Int32
	loc := locatorTo(func(k string) string {
		if published.Load() {
			return o.url(k)
		}
		return ""
	}, &lookups)
	cfg := fastConfig()
	cfg.IdleTimeout = 300 * time.Millisecond
	r, reg := startRelay(t, cfg, loc, 500*time.Millisecond)
	p := newPlayer(t, r, reg, "live/cam")
	p.read(t, 20)

	published.Store(false)
	pub.stop()
	// New players are refused once the lookup says the stream is gone.
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if err := r.Ensure("live/cam"); !errors.Is(err, ErrStreamNotFound) {
			return fmt.Errorf("Ensure = %w, want ErrStreamNotFound", err)
		}
		return nil
	})
	// The attached player ends after the edge's grace period, then the
	// pull stops.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	var err error
	for err == nil {
		p.pkts, err = p.sub.Read(ctx, p.pkts[:0])
	}
	if !errors.Is(err, io.EOF) {
		t.Fatalf("player Read = %v, want io.EOF after the grace period", err)
	}
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if r.Pulling("live/cam") {
			return errors.New("still pulling")
		}
		return nil
	})
}

func TestRelay_ConcurrentEnsureMakesOnePull(t *testing.T) {
	o := startOrigin(t, time.Second)
	startPublisher(t, o, "live/cam", 0)
	var lookups atomic.Int32
	r, reg := startRelay(t, fastConfig(), locatorTo(func(k string) string { return o.url(k) }, &lookups), time.Second)
	var wg sync.WaitGroup
	players := make([]*player, 8)
	for i := range players {
		wg.Go(func() {
			if err := r.Ensure("live/cam"); err != nil {
				t.Errorf("Ensure: %v", err)
				return
			}
			sub, err := reg.Subscribe("live/cam", true)
			if err != nil {
				t.Errorf("Subscribe: %v", err)
				return
			}
			players[i] = &player{sub: sub}
		})
	}
	wg.Wait()
	for _, p := range players {
		if p == nil {
			t.FailNow()
		}
		t.Cleanup(p.sub.Close)
		p.read(t, 10)
	}
	if n := o.subscribers("live/cam"); n != 1 {
		t.Errorf("origin subscribers = %d, want 1", n)
	}
}

func TestRelay_RunStopEndsPulls(t *testing.T) {
	o := startOrigin(t, time.Second)
	startPublisher(t, o, "live/cam", 0)
	reg := stream.NewRegistry(stream.Config{}, testLogger(t))
	var lookups atomic.Int32
	r := New(fastConfig(), locatorTo(func(k string) string { return o.url(k) }, &lookups), reg, testLogger(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	p := newPlayer(t, r, reg, "live/cam")
	p.read(t, 10)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if err := r.Ensure("live/other"); !errors.Is(err, ErrClosed) {
		t.Errorf("Ensure after Run = %v, want ErrClosed", err)
	}
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if n := o.subscribers("live/cam"); n != 0 {
			return fmt.Errorf("origin subscribers = %d after Run returned, want 0", n)
		}
		return nil
	})
	if err := r.Run(t.Context()); err == nil {
		t.Error("second Run = nil, want an error")
	}
}

func TestSplitURL(t *testing.T) {
	for _, tc := range splitCases {
		t.Run(tc.raw, func(t *testing.T) {
			app, name, err := splitURL(tc.raw)
			if (err != nil) != tc.wantErr || app != tc.app || name != tc.name {
				t.Errorf("splitURL(%q) = %q, %q, %v; want %q, %q, error %v", tc.raw, app, name, err, tc.app, tc.name, tc.wantErr)
			}
		})
	}
}

var splitCases = []struct {
	raw       string
	app, name string
	wantErr   bool
}{
	{raw: "rtmp://10.0.0.1:1935/live/cam", app: "rtmp://10.0.0.1:1935/live", name: "cam"},
	{raw: "rtmp://h/live/room1/cam", app: "rtmp://h/live/room1", name: "cam"},
	{raw: "rtmp://[::1]:1935/live/cam", app: "rtmp://[::1]:1935/live", name: "cam"},
	{raw: "rtmp://h:1935/cam", wantErr: true},
	{raw: "rtmp://h:1935/live/", wantErr: true},
	{raw: "http://h/live/cam", wantErr: true},
	{raw: "rtmp:///live/cam", wantErr: true},
	{raw: "::", wantErr: true},
}

func FuzzSplitURL(f *testing.F) {
	for _, tc := range splitCases {
		f.Add(tc.raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		app, name, err := splitURL(raw)
		if err != nil {
			return
		}
		if app+"/"+name != raw || name == "" || strings.Contains(name, "/") {
			t.Fatalf("splitURL(%q) = %q, %q: does not split the url at its last slash", raw, app, name)
		}
	})
}

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

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
