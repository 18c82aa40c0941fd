package mediaserver

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoal-live/shoal/internal/rtmp"
	"github.com/shoal-live/shoal/internal/rtmp/chunk"
	"github.com/shoal-live/shoal/internal/rtmp/handshake"
	"github.com/shoal-live/shoal/internal/rtmp/rtmptest"
)

// commandBody builds an AMF0 command body by hand, so that it can be broken.
func commandBody(name string, rest ...[]byte) []byte {
	b := []byte{0x02, 0, byte(len(name))}
	b = append(b, name...)
	b = append(b, 0x00, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0) // transaction id 1
	for _, r := range rest {
		b = append(b, r...)
	}
	return b
}

func deepArrays(depth int) []byte {
	var b bytes.Buffer
	for range depth {
		b.Write([]byte{0x0a, 0, 0, 0, 1}) // strict array of one element
	}
	b.WriteByte(0x05)
	return b.Bytes()
}

func TestE2EBadInputClosesOnlyThatConnection(t *testing.T) {
	n := startNode(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// A Go publisher pushes a synthetic stream in a loop; a Go player reads it.
	pub := dial(t, n.rtmpURL("live"))
	if err := pub.Publish(ctx, "steady"); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		pkts := rtmptest.Stream(1000, 25)
		start := time.Now()
		for i, p := range pkts {
			if ctx.Err() != nil {
				return
			}
			if i%10 == 0 {
				time.Sleep(time.Until(start.Add(time.Duration(p.Timestamp) * time.Millisecond / 4)))
			}
			if err := pub.WritePacket(p); err != nil {
				return
			}
		}
	}()
	defer func() { cancel(); pub.Close(); <-pubDone }()
	waitPublishing(t, n, "live/steady")
	player := dial(t, n.rtmpURL("live"))
	if err := player.Play(ctx, "steady"); err != nil {
		t.Fatalf("Play: %v", err)
	}
	var received atomic.Int64
	playDone := make(chan error, 1)
	go func() {
		for {
			if _, err := player.ReadPacket(); err != nil {
				playDone <- err
				return
			}
			received.Add(1)
		}
	}()

	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	raw := func(name string, afterHandshake bool, payload []byte) {
		t.Helper()
		c, err := net.Dial("tcp", n.RTMPAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if afterHandshake {
			if err := handshake.Client(c); err != nil {
				t.Fatalf("%s: handshake: %v", name, err)
			}
		}
		_, _ = c.Write(payload)
		// The server must close this connection.
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = io.Copy(io.Discard, c)
		if ne := (net.Error)(nil); errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("%s: connection still open after 5s", name)
		}
	}
	msg := func(typeID uint8, body []byte) []byte {
		w := chunk.NewWriter(io.Discard)
		return w.AppendMessage(nil, &chunk.Message{ChunkStreamID: 3, TypeID: typeID, Body: body})
	}
	hugeHeader := []byte{0x03, 0, 0, 0, 0xff, 0xff, 0xff, 20, 0, 0, 0, 0} // fmt 0, 16 MiB - 1 declared
	longString := append([]byte{0x0c}, binary.BigEndian.AppendUint32(nil, 1<<30)...)
	cases := []struct {
		name    string
		hs      bool
		payload []byte
	}{
		{"garbage handshake", false, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n" + string(make([]byte, 3000)))},
		{"chunk size 0", true, msg(1, []byte{0, 0, 0, 0})},
		{"chunk size over 16 MiB", true, msg(1, []byte{0x02, 0, 0, 0})},
		{"declared 16 MiB message", true, hugeHeader},
		{"1 GiB declared AMF string", true, msg(20, commandBody("connect", longString))},
		{"nesting 10000 deep", true, msg(20, commandBody("connect", deepArrays(10000)))},
		{"truncated AMF", true, msg(20, commandBody("connect", []byte{0x03, 0, 3, 'a', 'p', 'p', 0x02, 0, 0x10, 'l', 'i'}))},
	}
	for _, tc := range cases {
		raw(tc.name, tc.hs, tc.payload)
	}

	// The player keeps playing.
	got := received.Load()
	checkFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		select {
		case err := <-playDone:
			return fmt.Errorf("player stopped: %w", err)
		default:
		}
		if now := received.Load(); now < got+50 {
			return fmt.Errorf("player received %d packets since the attacks, want 50", now-got)
		}
		return nil
	})
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grow := int64(after.HeapInuse) - int64(before.HeapInuse); grow > 64<<20 {
		t.Errorf("heap grew by %d MiB during bad input", grow>>20)
	}
	for _, want := range []string{"handshake", "chunk size", "nest"} {
		if !n.logs.contains(want) {
			t.Errorf("no log line mentions %q", want)
		}
	}
	_ = rtmp.ErrStreamTaken
}
