package rtmp

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/shoal-live/shoal/internal/flv"
)

// benchSubscribers makes n server connections over loopback TCP whose
// client ends are read and discarded, and returns a play writer for each.
func benchSubscribers(b *testing.B, n int) []*playWriter {
	b.Helper()
	var lc net.ListenConfig
	ln, err := lc.Listen(b.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	var wg sync.WaitGroup
	var conns []net.Conn
	b.Cleanup(func() {
		for _, c := range conns {
			_ = c.Close()
		}
		wg.Wait()
	})
	cfg := connConfig{writeTimeout: DefaultWriteTimeout, chunkSize: DefaultChunkSize}
	stats := &serverCounters{}
	logger := slog.New(slog.DiscardHandler)
	ws := make([]*playWriter, n)
	var d net.Dialer
	for i := range ws {
		client, err := d.DialContext(b.Context(), "tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		server, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, client, server)
		wg.Go(func() { _, _ = io.Copy(io.Discard, client) })
		c := newServerConn(server, fmt.Sprint(i), cfg, nil, stats, logger)
		c.chunkSize = cfg.chunkSize
		ws[i] = &playWriter{
			c: c, streamID: 1, chunkSize: c.chunkSize,
			pkts: make([]*flv.Packet, 0, playBatch), bufs: make([][]byte, 0, playBatch),
		}
	}
	return ws
}

// BenchmarkPlayWrite measures the server's fan-out write path: one op
// delivers a batch of fresh packets (video frames of 5000 bytes and audio
// frames of 200 bytes, as a publisher produces them) to 100 subscribers,
// each with one vectored write. Allocations per op should not grow with
// the number of subscribers: each packet is chunk-encoded once.
func BenchmarkPlayWrite(b *testing.B) {
	const subscribers = 100
	video := make([]byte, 5000)
	video[0], video[1] = 0x27, 0x01
	audio := make([]byte, 200)
	audio[0], audio[1] = 0xaf, 0x01
	for _, batch := range []int{2, 16} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			ws := benchSubscribers(b, subscribers)
			pkts := make([]*flv.Packet, batch)
			var wire int64
			ts := uint32(0)
			newBatch := func() {
				for i := range pkts {
					if i%2 == 0 {
						pkts[i] = flv.NewPacket(flv.PacketVideo, ts, video)
					} else {
						pkts[i] = flv.NewPacket(flv.PacketAudio, ts, audio)
					}
					ts += 20
				}
			}
			newBatch()
			for _, p := range pkts {
				wire += int64(len(encodePacket(p, DefaultChunkSize, 1)))
			}
			b.SetBytes(wire * subscribers)
			b.ReportAllocs()
			for b.Loop() {
				newBatch()
				for _, w := range ws {
					w.pkts = append(w.pkts[:0], pkts...)
					if err := w.write(w.pkts, time.Now()); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
