package stream

import (
	"context"
	"fmt"
	"testing"

	"github.com/shoal-live/shoal/internal/flv"
)

// benchGOP is one second of a 2 Mbit/s, 30 fps stream with 44.1 kHz AAC:
// a keyframe, 29 inter frames and 43 audio frames, interleaved.
func benchGOP() []*flv.Packet {
	var pkts []*flv.Packet
	a := 0
	for i := range 30 {
		ts := uint32(i * 33)
		if i == 0 {
			pkts = append(pkts, keyframe(ts, 60000))
		} else {
			pkts = append(pkts, inter(ts, 6000))
		}
		for ; a*1024*1000/44100 <= i*33+33 && a < 43; a++ {
			pkts = append(pkts, audio(uint32(a*1024*1000/44100)))
		}
	}
	return pkts
}

// BenchmarkFanout measures WritePacket with n subscribers whose queues
// never fill; ns/sub is the cost per subscriber per packet.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
			r := NewRegistry(Config{}, discardLogger())
			p, err := r.Publish("live/bench")
			if err != nil {
				b.Fatal(err)
			}
			subs := make([]*Subscriber, n)
			for i := range subs {
				if subs[i], err = r.Subscribe("live/bench", false); err != nil {
					b.Fatal(err)
				}
			}
			gop := benchGOP()
			// Warm up: grow the rings and the GOP cache to their steady size.
			buf := make([]*flv.Packet, 0, DefaultQueuePackets)
			drain := func() {
				for _, s := range subs {
					buf, _ = s.Read(context.Background(), buf[:0])
				}
			}
			const drainEvery = 512 // below the 1024-packet queue bound
			for range 2 {
				for i := range drainEvery {
					p.WritePacket(gop[i%len(gop)])
				}
				drain()
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				p.WritePacket(gop[i%len(gop)])
				if i%drainEvery == drainEvery-1 {
					b.StopTimer()
					drain()
					b.StartTimer()
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/sub")
			for _, s := range subs {
				if s.Dropped() != 0 {
					b.Fatalf("a subscriber dropped %d packets", s.Dropped())
				}
				s.Close()
			}
			p.Close()
		})
	}
}

// BenchmarkSubscriberRead measures one subscriber reading batches of 64
// packets: the publisher's delivery and the Read that returns them.
func BenchmarkSubscriberRead(b *testing.B) {
	const batch = 64
	r := NewRegistry(Config{}, discardLogger())
	p, err := r.Publish("live/bench")
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	s, err := r.Subscribe("live/bench", false)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	gop := benchGOP()
	buf := make([]*flv.Packet, 0, batch)
	ctx := context.Background()
	next := 0
	b.ReportAllocs()
	for b.Loop() {
		for range batch {
			p.WritePacket(gop[next])
			next = (next + 1) % len(gop)
		}
		buf, err = s.Read(ctx, buf[:0])
		if err != nil || len(buf) != batch {
			b.Fatalf("Read = %d packets, %v; want %d", len(buf), err, batch)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/batch, "ns/packet")
}
