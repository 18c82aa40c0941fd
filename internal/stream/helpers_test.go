package stream

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/shoal-live/shoal/internal/flv"
)

// checkFor calls f every interval until it returns nil, and fails the test
// with f's last error if that does not happen within timeout.
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

// checkNoLeak fails the test if, once it and its cleanups are done, more
// goroutines run than when it started.
func checkNoLeak(t *testing.T) {
	t.Helper()
	base := runtime.NumGoroutine()
	t.Cleanup(func() {
		checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
			if n := runtime.NumGoroutine(); n > base {
				buf := make([]byte, 1<<16)
				return fmt.Errorf("%d goroutines running, want at most %d:\n%s", n, base, buf[:runtime.Stack(buf, true)])
			}
			return nil
		})
	})
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newTestRegistry(t *testing.T, cfg Config) *Registry {
	t.Helper()
	checkNoLeak(t)
	return NewRegistry(cfg, discardLogger())
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// Payloads with real FLV tag headers (ffmpeg libx264/aac output).
var (
	// 1920x1080 High 4.0.
	avcSeq1080 = mustHex("1700000000 01640028ffe1001b67640028acd940780227e5c044000003000400000300c83c60c65801000668ebe3cb22c0fdf8f800")
	// 640x360 Baseline 3.0.
	avcSeq360 = mustHex("1700000000 0142c01effe100196742c01ed900a02ff97011000003000100000300320f162e4801000568cb83cb20")
	aacSeq    = mustHex("af00 1208 56e500")
	metaSet   = mustHex("02000d40736574446174614672616d65 02000a6f6e4d65746144617461 0800000000000009")
	metaBare  = mustHex("02000a6f6e4d65746144617461 0800000000000009")
)

func sized(header string, size int) []byte {
	b := mustHex(header)
	if size > len(b) {
		b = append(b, make([]byte, size-len(b))...)
	}
	return b
}

func keyframe(ts uint32, size int) *flv.Packet {
	return flv.NewPacket(flv.PacketVideo, ts, sized("1701000000 00000002 65", size))
}

func inter(ts uint32, size int) *flv.Packet {
	return flv.NewPacket(flv.PacketVideo, ts, sized("2701000000 00000002 41", size))
}

func audio(ts uint32) *flv.Packet {
	return flv.NewPacket(flv.PacketAudio, ts, sized("af01 21", 16))
}

func videoSeq(ts uint32, payload []byte) *flv.Packet {
	return flv.NewPacket(flv.PacketVideo, ts, payload)
}

func audioSeq(ts uint32) *flv.Packet { return flv.NewPacket(flv.PacketAudio, ts, aacSeq) }

func metadata(ts uint32, payload []byte) *flv.Packet {
	return flv.NewPacket(flv.PacketData, ts, payload)
}

// describe names packets for comparisons: K keyframe, V inter frame,
// S video sequence header, A audio, T audio sequence header, M metadata,
// D other data; then the timestamp.
func describe(pkts []*flv.Packet) []string {
	out := make([]string, 0, len(pkts))
	for _, p := range pkts {
		var c string
		switch {
		case p.Type == flv.PacketVideo && p.SequenceHeader:
			c = "S"
		case p.Type == flv.PacketVideo && p.Keyframe:
			c = "K"
		case p.Type == flv.PacketVideo:
			c = "V"
		case p.Type == flv.PacketAudio && p.SequenceHeader:
			c = "T"
		case p.Type == flv.PacketAudio:
			c = "A"
		case p.Type == flv.PacketData:
			if _, ok := flv.Metadata(p.Payload); ok {
				c = "M"
			} else {
				c = "D"
			}
		}
		out = append(out, fmt.Sprintf("%s%d", c, p.Timestamp))
	}
	return out
}

// readNow returns what s has queued without waiting, failing on errors
// other than a deadline.
func readNow(t *testing.T, s *Subscriber) []*flv.Packet {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	pkts, err := s.Read(ctx, nil)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Read: %v", err)
	}
	return pkts
}

// readN reads until n packets came, or fails after a few seconds.
func readN(t *testing.T, s *Subscriber, n int) []*flv.Packet {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	var pkts []*flv.Packet
	for len(pkts) < n {
		var err error
		pkts, err = s.Read(ctx, pkts)
		if err != nil {
			t.Fatalf("Read after %d of %d packets %v: %v", len(pkts), n, describe(pkts), err)
		}
	}
	return pkts
}

// readToEOF reads until io.EOF.
func readToEOF(t *testing.T, s *Subscriber) []*flv.Packet {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	var pkts []*flv.Packet
	for {
		var err error
		pkts, err = s.Read(ctx, pkts)
		if errors.Is(err, io.EOF) {
			return pkts
		}
		if err != nil {
			t.Fatalf("Read after %v: %v, want io.EOF", describe(pkts), err)
		}
	}
}

func mustPublish(t *testing.T, r *Registry, key string) *Publisher {
	t.Helper()
	p, err := r.Publish(key)
	if err != nil {
		t.Fatalf("Publish(%q): %v", key, err)
	}
	return p
}

func mustSubscribe(t *testing.T, r *Registry, key string, wait bool) *Subscriber {
	t.Helper()
	s, err := r.Subscribe(key, wait)
	if err != nil {
		t.Fatalf("Subscribe(%q, %v): %v", key, wait, err)
	}
	t.Cleanup(s.Close)
	return s
}
