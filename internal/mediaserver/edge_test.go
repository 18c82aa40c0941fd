package mediaserver

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/shoal-live/shoal/internal/config"
	"github.com/shoal-live/shoal/internal/flv"
	"github.com/shoal-live/shoal/internal/relay"
	"github.com/shoal-live/shoal/internal/rtmp"
	"github.com/shoal-live/shoal/internal/rtmp/rtmptest"
)

// startOrigin runs an origin node.
func startOrigin(t *testing.T, mutate func(*config.Node)) *testNode {
	t.Helper()
	return startNode(t, func(c *config.Node) {
		c.Node.Role = "origin"
		c.Node.ID = "origin-1"
		if mutate != nil {
			mutate(c)
		}
	})
}

// startEdge runs an edge node whose relay finds origins with loc.
func startEdge(t *testing.T, loc originLocator, mutate func(*config.Node)) *testNode {
	t.Helper()
	return startNodePrepared(t, context.Background(), func(c *config.Node) {
		c.Node.Role = "edge"
		c.Node.ID = "edge-1"
		c.Relay.IdleTimeout = time.Second
		c.Relay.RetryMin = 50 * time.Millisecond
		c.Relay.RetryMax = 200 * time.Millisecond
		if mutate != nil {
			mutate(c)
		}
	}, func(s *Server) { s.locator = loc })
}

// locateOn is a fake locator that finds every stream on n.
func locateOn(n *testNode) relay.LocatorFunc {
	return func(_ context.Context, key string) (string, error) { return n.rtmpURL(key), nil }
}

// goPublisher publishes a synthetic H.264/AAC stream (GOPs of 10 frames,
// one frame every 10ms) with the Go client until stopped. Its timestamps
// start at base, to tell publishers apart.
type goPublisher struct {
	c      *rtmp.ClientConn
	cancel context.CancelFunc
	done   chan struct{}
}

func startGoPublisher(t testing.TB, appURL, name string, base uint32) *goPublisher {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := rtmp.Dial(ctx, appURL, rtmp.ClientOptions{})
	if err != nil {
		t.Fatalf("publisher Dial(%s): %v", appURL, err)
	}
	if err := c.Publish(ctx, name); err != nil {
		c.Close()
		t.Fatalf("Publish(%s): %v", name, err)
	}
	pctx, pcancel := context.WithCancel(context.Background())
	p := &goPublisher{c: c, cancel: pcancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		_ = c.WritePacket(rtmptest.AVCSequenceHeader(base))
		_ = c.WritePacket(rtmptest.AACSequenceHeader(base))
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for f := 0; ; f++ {
			ts := base + uint32(f*40)
			v := rtmptest.AVCInterFrame(ts, f%10, 400)
			if f%10 == 0 {
				v = rtmptest.AVCKeyframe(ts, 2000)
			}
			if c.WritePacket(v) != nil || c.WritePacket(rtmptest.AACFrame(ts, 100)) != nil {
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

// stop ends the publisher and closes its connection; it is idempotent.
func (p *goPublisher) stop() {
	p.cancel()
	<-p.done
	p.c.Close()
}

// goPlayer plays a stream with the Go client.
type goPlayer struct {
	c    *rtmp.ClientConn
	pkts []*flv.Packet
}

func startGoPlayer(t *testing.T, n *testNode, app, name string) *goPlayer {
	t.Helper()
	c := dial(t, n.rtmpURL(app))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Play(ctx, name); err != nil {
		t.Fatalf("Play(%s/%s): %v", app, name, err)
	}
	return &goPlayer{c: c}
}

// read reads n more packets, failing the test on an error.
func (p *goPlayer) read(t *testing.T, n int) []*flv.Packet {
	t.Helper()
	start := len(p.pkts)
	for len(p.pkts)-start < n {
		pk, err := p.c.ReadPacket()
		if err != nil {
			t.Fatalf("ReadPacket after %d packets: %v", len(p.pkts), err)
		}
		p.pkts = append(p.pkts, pk)
	}
	return p.pkts[start:]
}

// readUntilTimestamp reads until a video frame at or after ts arrives.
func (p *goPlayer) readUntilTimestamp(t *testing.T, ts uint32) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, pk := range p.read(t, 1) {
			if pk.Type == flv.PacketVideo && !pk.SequenceHeader && pk.Timestamp >= ts {
				return
			}
		}
	}
	t.Fatalf("no video frame at or after %d ms within 10s", ts)
}

// streamInfo returns the registry's subscribers of key on n, and whether
// it is there.
func subscribersOf(n *testNode, key string) int {
	for _, in := range n.streams.Streams() {
		if in.Key == key {
			return in.Subscribers
		}
	}
	return 0
}

func TestRelayEdgePullsOnceForAllPlayers(t *testing.T) {
	origin := startOrigin(t, nil)
	edge := startEdge(t, locateOn(origin), nil)
	pub := startGoPublisher(t, origin.rtmpURL("live"), "cam", 0)
	waitPublishing(t, origin, "live/cam")

	p1 := startGoPlayer(t, edge, "live", "cam")
	p2 := startGoPlayer(t, edge, "live", "cam")
	checkStartsOnKeyframe(t, p1.read(t, 40))
	checkStartsOnKeyframe(t, p2.read(t, 40))
	if n := subscribersOf(origin, "live/cam"); n != 1 {
		t.Errorf("origin subscribers = %d, want 1 (the edge's pull)", n)
	}
	if n := subscribersOf(edge, "live/cam"); n != 2 {
		t.Errorf("edge subscribers = %d, want 2", n)
	}

	// The publisher reconnects within the origin's grace period: the edge
	// players play on, on the same connections.
	pub.stop()
	const second = 1_000_000
	startGoPublisher(t, origin.rtmpURL("live"), "cam", second)
	p1.readUntilTimestamp(t, second)
	p2.readUntilTimestamp(t, second)
	if n := subscribersOf(origin, "live/cam"); n != 1 {
		t.Errorf("origin subscribers after the publisher came back = %d, want 1", n)
	}

	// The last player leaves: the pull stops after relay.idle_timeout.
	p1.c.Close()
	p2.c.Close()
	left := time.Now()
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if n := subscribersOf(origin, "live/cam"); n != 0 {
			return fmt.Errorf("origin subscribers = %d, want 0 once the edge stopped pulling", n)
		}
		return nil
	})
	if d := time.Since(left); d < time.Second {
		t.Errorf("the pull stopped %s after the last player left, want after the 1s idle timeout", d)
	}
}

func TestRelayEdgeStreamNotFound(t *testing.T) {
	edge := startEdge(t, relay.LocatorFunc(func(context.Context, string) (string, error) {
		return "", relay.ErrStreamNotFound
	}), nil)
	c := dial(t, edge.rtmpURL("live"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Play(ctx, "nothing"); !isStatus(err, rtmp.CodePlayStreamNotFound) {
		t.Fatalf("Play(nothing) = %v, want %s", err, rtmp.CodePlayStreamNotFound)
	}
}

func TestRelayEdgeOriginUnavailable(t *testing.T) {
	edge := startEdge(t, relay.LocatorFunc(func(context.Context, string) (string, error) {
		return "", errors.New("manager unreachable")
	}), nil)
	c := dial(t, edge.rtmpURL("live"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := c.Play(ctx, "cam")
	var se *rtmp.StatusError
	if !errors.As(err, &se) || se.Code != rtmp.CodePlayFailed || se.Description != "origin unavailable" {
		t.Fatalf("Play = %v, want %s \"origin unavailable\"", err, rtmp.CodePlayFailed)
	}
}

func TestE2EFFmpegRelay(t *testing.T) {
	needBinary(t, "ffmpeg", "ffprobe")
	origin := startOrigin(t, nil)
	edge := startEdge(t, locateOn(origin), nil)
	ffmpegPublish(t, origin.rtmpURL("live/test"), 30*time.Second)
	waitPublishing(t, origin, "live/test")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := filepath.Join(t.TempDir(), "edge.flv")
	recorded := make(chan error, 1)
	go func() { recorded <- ffmpegRecord(ctx, edge.rtmpURL("live/test"), out, 3*time.Second) }()
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if e, o := subscribersOf(edge, "live/test"), subscribersOf(origin, "live/test"); e != 1 || o != 1 {
			return fmt.Errorf("edge subscribers %d, origin subscribers %d; want 1 and 1 while ffmpeg plays", e, o)
		}
		return nil
	})
	if err := <-recorded; err != nil {
		t.Fatal(err)
	}
	checkProbe(t, ffprobe(t, out))
}
