package mediaserver

import (
	"context"
	"encoding/binary"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/shoal-live/shoal/internal/config"
	"github.com/shoal-live/shoal/internal/flv"
	"github.com/shoal-live/shoal/internal/relay"
	"github.com/shoal-live/shoal/internal/rtmp"
	"github.com/shoal-live/shoal/internal/rtmp/rtmptest"
)

// Offsets in the payload of a latency probe frame: the FLV video tag
// header (5 bytes), the NAL length (4), the NAL header (1), then ours.
const (
	probeMeasured = 10 // 1 for frames written after the warm-up
	probeSentAt   = 11 // publisher's wall clock, UnixNano, big endian
	probeSize     = 1500
)

// probeFrame is a video frame carrying the time it was written.
func probeFrame(ts uint32, key, measured bool) *flv.Packet {
	b := make([]byte, probeSize)
	b[0], b[9] = 0x27, 0x41
	if key {
		b[0], b[9] = 0x17, 0x65
	}
	b[1] = 0x01 // AVC NALU
	binary.BigEndian.PutUint32(b[5:], probeSize-9)
	if measured {
		b[probeMeasured] = 1
	}
	binary.BigEndian.PutUint64(b[probeSentAt:], uint64(time.Now().UnixNano()))
	return flv.NewPacket(flv.PacketVideo, ts, b)
}

// startBenchNode runs a node quietly until the benchmark ends.
func startBenchNode(b *testing.B, mutate func(*config.Node), prepare func(*Server)) *Server {
	b.Helper()
	cfg := config.DefaultNode()
	cfg.RTMP.Addr = "127.0.0.1:0"
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Node.DataDir = b.TempDir()
	mutate(&cfg)
	srv, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatalf("New: %v", err)
	}
	if prepare != nil {
		prepare(srv)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("Run: %v", err)
		}
	})
	select {
	case <-srv.Ready():
	case err := <-done:
		b.Fatalf("Run: %v", err)
	}
	return srv
}

// latencyPlayer plays a stream and records how long each measured frame
// took from the publisher's write to here.
type latencyPlayer struct {
	c     *rtmp.ClientConn
	first chan struct{}        // closed at the first frame
	done  chan []time.Duration // the latencies, once want frames came
}

func startLatencyPlayer(b *testing.B, addr string, want int) *latencyPlayer {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := rtmp.Dial(ctx, "rtmp://"+addr+"/live", rtmp.ClientOptions{})
	if err != nil {
		b.Fatalf("Dial: %v", err)
	}
	b.Cleanup(func() { c.Close() })
	if err := c.Play(ctx, "lat"); err != nil {
		b.Fatalf("Play: %v", err)
	}
	p := &latencyPlayer{c: c, first: make(chan struct{}), done: make(chan []time.Duration, 1)}
	go func() {
		lat := make([]time.Duration, 0, want)
		first := true
		for len(lat) < want {
			pk, err := c.ReadPacket()
			if err != nil {
				break
			}
			if pk.Type != flv.PacketVideo || pk.SequenceHeader || len(pk.Payload) != probeSize {
				continue
			}
			if first {
				close(p.first)
				first = false
			}
			if pk.Payload[probeMeasured] == 1 {
				sent := int64(binary.BigEndian.Uint64(pk.Payload[probeSentAt:]))
				lat = append(lat, time.Duration(time.Now().UnixNano()-sent))
			}
		}
		p.done <- lat
	}()
	return p
}

// BenchmarkRelayHop measures the latency from a publisher's write to a
// player's read, playing from the origin directly and from an edge that
// pulls from the origin, in the same run (one frame every 2ms, 1500-byte
// frames, everything on loopback). It reports the percentiles as
// direct-p50-µs, relay-p50-µs and so on; ns/op is the pacing.
func BenchmarkRelayHop(b *testing.B) {
	origin := startBenchNode(b, func(c *config.Node) { c.Node.Role, c.Node.ID = "origin", "origin" }, nil)
	edge := startBenchNode(b, func(c *config.Node) { c.Node.Role, c.Node.ID = "edge", "edge" }, func(s *Server) {
		s.locator = relay.LocatorFunc(func(_ context.Context, key string) (string, error) {
			return "rtmp://" + origin.RTMPAddr().String() + "/" + key, nil
		})
	})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pub, err := rtmp.Dial(ctx, "rtmp://"+origin.RTMPAddr().String()+"/live", rtmp.ClientOptions{})
	if err != nil {
		b.Fatalf("publisher Dial: %v", err)
	}
	defer pub.Close()
	if err := pub.Publish(ctx, "lat"); err != nil {
		b.Fatalf("Publish: %v", err)
	}
	if err := pub.WritePacket(rtmptest.AVCSequenceHeader(0)); err != nil {
		b.Fatal(err)
	}
	const every = 2 * time.Millisecond
	tick := time.NewTicker(every)
	defer tick.Stop()
	frame := 0
	write := func(measured bool) {
		<-tick.C
		if err := pub.WritePacket(probeFrame(uint32(frame*2), frame%50 == 0, measured)); err != nil {
			b.Fatalf("WritePacket: %v", err)
		}
		frame++
	}
	write(false) // a keyframe for the players to start on

	direct := startLatencyPlayer(b, origin.RTMPAddr().String(), b.N)
	relayed := startLatencyPlayer(b, edge.RTMPAddr().String(), b.N)
	for _, p := range []*latencyPlayer{direct, relayed} {
		for started := false; !started; {
			select {
			case <-p.first:
				started = true
			case <-ctx.Done():
				b.Fatal("players did not start within 10s")
			default:
				write(false)
			}
		}
	}
	for range 100 { // settle: both paths steady
		write(false)
	}

	b.ResetTimer()
	for range b.N {
		write(true)
	}
	b.StopTimer()
	var results [2][]time.Duration
	for i, p := range []*latencyPlayer{direct, relayed} {
		select {
		case results[i] = <-p.done:
		case <-time.After(10 * time.Second):
			b.Fatalf("player %d did not get all %d frames", i, b.N)
		}
		if len(results[i]) != b.N {
			b.Fatalf("player %d got %d of %d measured frames", i, len(results[i]), b.N)
		}
	}
	for i, name := range []string{"direct", "relay"} {
		lat := results[i]
		slices.Sort(lat)
		b.ReportMetric(float64(percentile(lat, 50).Microseconds()), name+"-p50-µs")
		b.ReportMetric(float64(percentile(lat, 99).Microseconds()), name+"-p99-µs")
		b.ReportMetric(float64(percentile(lat, 90).Microseconds()), name+"-p90-µs")
		b.ReportMetric(float64(percentile(lat, 95).Microseconds()), name+"-p95-µs")
	}
}

// percentile returns the p-th percentile of sorted durations.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, len(sorted)*p/100)]
}
