//go:build unix

package rtmp

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-live/shoal/internal/flv"
	"github.com/shoal-live/shoal/internal/stream"
)

// BenchmarkPlayMerge runs the whole play path (stream subscribers, play
// loops, vectored writes to loopback TCP connections whose client ends
// discard what they read) for 100 subscribers of a stream paced like the
// fan-out benchmark's clip: 73 packets a second, 30 video frames of 10 KB
// and 43 audio frames of 200 bytes. One op is one packet, so ns/op is the
// pacing. It reports writes/packet (vectored writes per packet per
// subscriber) and cpu-µs/delivery: the process's CPU time (the server's
// writes and the readers' reads, which loopback charges to both) per
// packet per subscriber.
func BenchmarkPlayMerge(b *testing.B) {
	const subscribers = 100
	const interval = time.Second / 73
	video := make([]byte, 10000)
	video[0], video[1] = 0x27, 0x01
	audio := make([]byte, 200)
	audio[0], audio[1] = 0xaf, 0x01
	for _, merge := range []time.Duration{0, 50 * time.Millisecond, 100 * time.Millisecond} {
		b.Run(fmt.Sprintf("merge=%v", merge), func(b *testing.B) {
			reg := stream.NewRegistry(stream.Config{}, slog.New(slog.DiscardHandler))
			pub, err := reg.Publish("live/bench")
			if err != nil {
				b.Fatal(err)
			}
			defer pub.Close()
			ws := benchSubscribers(b, subscribers)
			ctx, cancel := context.WithCancel(b.Context())
			var wg sync.WaitGroup
			for _, w := range ws {
				w.merge = merge
				sub, err := reg.Subscribe("live/bench", false)
				if err != nil {
					b.Fatal(err)
				}
				wg.Go(func() {
					defer sub.Close()
					w.run(ctx, sub)
				})
			}
			ts := uint32(0)
			tick := time.NewTicker(interval)
			defer tick.Stop()
			publish := func(i int) {
				<-tick.C
				if i%7 < 3 { // 3 of 7 packets are video: 30 of 70 a second
					pub.WritePacket(flv.NewPacket(flv.PacketVideo, ts, video))
				} else {
					pub.WritePacket(flv.NewPacket(flv.PacketAudio, ts, audio))
				}
				ts += uint32(interval.Milliseconds())
			}
			pub.WritePacket(flv.NewPacket(flv.PacketVideo, 0, append([]byte{0x17}, video[1:]...))) // a keyframe to start on
			for i := range 10 {
				publish(i)
			}

			cpu0 := processCPU(b)
			b.ResetTimer()
			for i := range b.N {
				publish(i)
			}
			b.StopTimer()
			cpu := processCPU(b) - cpu0
			time.Sleep(merge + 20*time.Millisecond) // let the last window go out
			cancel()
			wg.Wait()
			var writes, packets uint64
			for _, w := range ws {
				writes += w.writes
				packets += w.packets
			}
			b.ReportMetric(float64(writes)/float64(packets), "writes/packet")
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*subscribers), "cpu-µs/delivery")
		})
	}
}

// processCPU returns the user and system CPU time of the process so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
