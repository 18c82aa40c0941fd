package rtmp_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/shoal-live/shoal/internal/flv"
	"github.com/shoal-live/shoal/internal/rtmp"
	"github.com/shoal-live/shoal/internal/rtmp/amf"
	"github.com/shoal-live/shoal/internal/rtmp/message"
	"github.com/shoal-live/shoal/internal/rtmp/rtmptest"
)

// TestRTMPServerShutdown cancels a server with publishing, playing, idle and
// half-handshaken connections and checks that Run returns, every
// connection is closed, the handler saw every disconnect, and no goroutine
// of the package is left.
func TestRTMPServerShutdown(t *testing.T) {
	reg := newRegistry()
	srv := &rtmp.Server{Addr: "127.0.0.1:0", Handler: reg, Logger: slog.New(newLogRecorder(t))}
	a, err := srv.Listen()
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	addr := a.String()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()

	pub := publishStream(t, addr, "live", "cam")
	writeAll(t, pub, rtmptest.Stream(1, 5))
	pl := dial(t, addr, "live", rtmp.ClientOptions{})
	if err := pl.Play(t.Context(), "cam"); err != nil {
		t.Fatalf("Play: %v", err)
	}
	idle := dial(t, addr, "live", rtmp.ClientOptions{ObjectEncoding: 3})
	if err := idle.SendSharedObject([]byte{0, 1, 'x'}); err != nil { // starts the server's sender
		t.Fatalf("SendSharedObject: %v", err)
	}
	half := dialTCP(t, addr)
	half.writeRaw(t, []byte{3}) // C0 only
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if n := srv.Stats().Conns; n != 4 {
			return fmt.Errorf("Stats().Conns = %d, want 4", n)
		}
		return nil
	})

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return 5s after cancel")
	}
	if n := srv.Stats().Conns; n != 0 {
		t.Errorf("Stats().Conns after Run = %d, want 0", n)
	}
	if err := half.waitClosed(time.Second); err != nil {
		t.Errorf("half-handshaken connection: %v", err)
	}
	if _, err := pl.ReadPacket(); err == nil {
		for err == nil { // drain what was queued before the close
			_, err = pl.ReadPacket()
		}
	}
	for _, c := range []*rtmp.ClientConn{pub, pl, idle} {
		if err := c.Close(); err != nil {
			t.Errorf("client Close: %v", err)
		}
	}
	reg.mu.Lock()
	conns, disconnects := len(reg.mu.conns), reg.mu.disconnects
	reg.mu.Unlock()
	if conns != 0 || disconnects != 3 {
		t.Errorf("handler: %d connections left, %d disconnects; want 0 and 3", conns, disconnects)
	}
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if gs := rtmpGoroutines(); len(gs) > 0 {
			return fmt.Errorf("%d goroutines left:\n%s", len(gs), strings.Join(gs, "\n\n"))
		}
		return nil
	})
}

func TestRTMPStats(t *testing.T) {
	reg := newRegistry()
	srv := &rtmp.Server{Addr: "127.0.0.1:0", Handler: reg, Logger: slog.New(newLogRecorder(t))}
	addr := rtmptest.Run(t, srv)
	stream := rtmptest.Stream(2, 10)
	var payload uint64
	for _, p := range stream {
		payload += uint64(len(p.Payload))
	}
	pub := publishStream(t, addr, "live", "cam")
	pl := dial(t, addr, "live", rtmp.ClientOptions{})
	writeAll(t, pub, stream[:2])
	checkFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		if n := reg.stream("live/cam").received(); n != 2 {
			return fmt.Errorf("received %d packets, want 2", n)
		}
		return nil
	})
	if err := pl.Play(t.Context(), "cam"); err != nil {
		t.Fatalf("Play: %v", err)
	}
	writeAll(t, pub, stream[2:])
	readPackets(t, pl, len(stream))
	// The counters are updated after each write returns, which may be
	// after the client has read the bytes.
	checkFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		st := srv.Stats()
		if st.Conns != 2 || st.Accepted != 2 {
			return fmt.Errorf("Conns, Accepted = %d, %d; want 2, 2", st.Conns, st.Accepted)
		}
		if st.BytesIn < payload || st.BytesOut < payload {
			return fmt.Errorf("BytesIn, BytesOut = %d, %d; want both at least the %d payload bytes", st.BytesIn, st.BytesOut, payload)
		}
		return nil
	})
}

func TestRTMPMaxConns(t *testing.T) {
	reg := newRegistry()
	srv := &rtmp.Server{Addr: "127.0.0.1:0", Handler: reg, MaxConns: 1, Logger: slog.New(newLogRecorder(t))}
	addr := rtmptest.Run(t, srv)
	first := dial(t, addr, "live", rtmp.ClientOptions{})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if c, err := rtmp.Dial(ctx, "rtmp://"+addr+"/live", rtmp.ClientOptions{}); err == nil {
		_ = c.Close()
		t.Fatal("second Dial succeeded with MaxConns 1")
	}
	if got := srv.Stats().Rejected; got != 1 {
		t.Errorf("Stats().Rejected = %d, want 1", got)
	}
	// The first connection is unaffected, and a slot frees up when it goes.
	if _, err := first.Call(t.Context(), "getStreamLength", "x"); err != nil {
		t.Errorf("first connection: %v", err)
	}
	_ = first.Close()
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		c, err := rtmp.Dial(ctx, "rtmp://"+addr+"/live", rtmp.ClientOptions{})
		if err != nil {
			return err
		}
		return c.Close()
	})
}

// TestRTMPSendQueueFull fills the shared-object queue of a client that
// does not read: SendSharedObject must not block, and the connection is
// closed with the reason logged.
func TestRTMPSendQueueFull(t *testing.T) {
	reg := newRegistry()
	addr, logs := startServer(t, reg)
	rc := dialRaw(t, addr)
	rc.connect("live", 0)
	var sc *rtmp.ServerConn
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		reg.mu.Lock()
		defer reg.mu.Unlock()
		for c := range reg.mu.conns {
			sc = c
		}
		if sc == nil {
			return errors.New("no connection in the handler")
		}
		return nil
	})
	body := make([]byte, 64<<10)
	var err error
	start := time.Now()
	for i := 0; i < 10000 && err == nil; i++ {
		err = sc.SendSharedObject(body)
	}
	if !errors.Is(err, rtmp.ErrSendQueueFull) {
		t.Fatalf("SendSharedObject to a client that does not read = %v, want ErrSendQueueFull", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("filling the queue took %v: SendSharedObject blocked", d)
	}
	local := rc.nc.LocalAddr().String()
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		got := logs.find(slog.LevelWarn, "connection closed", "remote_addr", local)
		if len(got) != 1 || !strings.Contains(got[0], "send queue full") {
			return fmt.Errorf("warnings = %q, want one with reason send queue full", got)
		}
		return nil
	})
}

// statusCode reads messages until an onStatus on stream sid and returns
// its code; media messages seen on the way are returned too.
func (c *rawClient) statusCode(sid uint32) (string, []message.Message) {
	c.t.Helper()
	var media []message.Message
	for {
		msg, err := c.read()
		if err != nil {
			c.t.Fatalf("waiting for onStatus: %v", err)
		}
		switch m := msg.(type) {
		case *message.CommandAMF0:
			if m.Name == "onStatus" && m.StreamID == sid && len(m.Args) > 0 {
				info, _ := m.Args[0].(amf.Object)
				code, _ := info.Get("code")
				s, _ := code.(string)
				return s, media
			}
		case *message.Audio, *message.Video:
			media = append(media, msg)
		}
	}
}

// firstVideo reads until a video message and returns it.
func (c *rawClient) firstVideo() *message.Video {
	c.t.Helper()
	for {
		msg, err := c.read()
		if err != nil {
			c.t.Fatalf("waiting for video: %v", err)
		}
		if v, ok := msg.(*message.Video); ok {
			return v
		}
	}
}

func TestRTMPPauseLive(t *testing.T) {
	reg := newRegistry()
	addr, _ := startServer(t, reg)
	pub := publishStream(t, addr, "live", "cam")
	writeAll(t, pub, rtmptest.Stream(1, 3))

	rc := dialRaw(t, addr)
	rc.connect("live", 0)
	rc.write(&message.CommandAMF0{Name: "createStream", TransactionID: 2})
	res := rc.waitCommand("_result").(*message.CommandAMF0)
	sid := uint32(res.Args[0].(float64))
	rc.write(&message.CommandAMF0{ChunkStreamID: 8, StreamID: sid, Name: "play", Args: []any{"cam"}})
	for _, want := range []string{rtmp.CodePlayReset, rtmp.CodePlayStart} {
		if got, _ := rc.statusCode(sid); got != want {
			t.Fatalf("status = %s, want %s", got, want)
		}
	}
	if v := rc.firstVideo(); !flv.NewPacket(flv.PacketVideo, 0, v.Payload).SequenceHeader {
		t.Fatalf("first video is not the sequence header")
	}

	rc.write(&message.CommandAMF0{ChunkStreamID: 8, StreamID: sid, Name: "pause", Args: []any{true, 0.0}})
	if got, _ := rc.statusCode(sid); got != rtmp.CodePauseNotify {
		t.Fatalf("status after pause = %s, want %s", got, rtmp.CodePauseNotify)
	}
	writeAll(t, pub, []*flv.Packet{rtmptest.AVCKeyframe(2000, 100)})
	checkFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		if n := reg.stream("live/cam").received(); n != 2+6+1 {
			return fmt.Errorf("received %d packets, want 9", n)
		}
		return nil
	})
	rc.write(&message.CommandAMF0{ChunkStreamID: 8, StreamID: sid, Name: "pause", Args: []any{false, 0.0}})
	got, media := rc.statusCode(sid)
	if got != rtmp.CodeUnpauseNotify {
		t.Fatalf("status after unpause = %s, want %s", got, rtmp.CodeUnpauseNotify)
	}
	if len(media) != 0 {
		t.Errorf("%d media messages between pause and unpause, want none", len(media))
	}
	// Resuming starts again at the sequence headers and the newest keyframe.
	if v := rc.firstVideo(); !flv.NewPacket(flv.PacketVideo, 0, v.Payload).SequenceHeader {
		t.Fatalf("first video after unpause is not the sequence header")
	}
	if v := rc.firstVideo(); !flv.NewPacket(flv.PacketVideo, 0, v.Payload).Keyframe || v.Timestamp != 2000 {
		t.Fatalf("second video after unpause: ts %d keyframe %v, want the keyframe at 2000", v.Timestamp, flv.NewPacket(flv.PacketVideo, 0, v.Payload).Keyframe)
	}
}

// TestRTMPDeleteStreamEndsPublish checks that deleteStream from the
// publisher unpublishes: players get io.EOF and the name is free again.
func TestRTMPDeleteStreamEndsPublish(t *testing.T) {
	reg := newRegistry()
	addr, _ := startServer(t, reg)
	rc := dialRaw(t, addr)
	rc.connect("live", 0)
	rc.write(&message.CommandAMF0{Name: "createStream", TransactionID: 2})
	sid := rc.waitCommand("_result").(*message.CommandAMF0).Args[0].(float64)
	rc.write(&message.CommandAMF0{ChunkStreamID: 8, StreamID: uint32(sid), Name: "publish", Args: []any{"cam", "live"}})
	if got, _ := rc.statusCode(uint32(sid)); got != rtmp.CodePublishStart {
		t.Fatalf("status = %s, want %s", got, rtmp.CodePublishStart)
	}
	pl := dial(t, addr, "live", rtmp.ClientOptions{})
	if err := pl.Play(t.Context(), "cam"); err != nil {
		t.Fatalf("Play: %v", err)
	}
	rc.write(&message.CommandAMF0{Name: "FCUnpublish", TransactionID: 3, Args: []any{"cam"}})
	rc.write(&message.CommandAMF0{Name: "deleteStream", TransactionID: 4, Args: []any{sid}})
	if _, err := pl.ReadPacket(); err == nil || !strings.Contains(err.Error(), "EOF") {
		t.Fatalf("ReadPacket after deleteStream = %v, want io.EOF", err)
	}
	publishStream(t, addr, "live", "cam") // the name is free again
}

func TestRTMPSeekLive(t *testing.T) {
	reg := newRegistry()
	addr, _ := startServer(t, reg)
	publishStream(t, addr, "live", "cam")
	rc := dialRaw(t, addr)
	rc.connect("live", 0)
	rc.write(&message.CommandAMF0{ChunkStreamID: 8, StreamID: 5, Name: "seek", Args: []any{1000.0}})
	if got, _ := rc.statusCode(5); got != rtmp.CodeSeekFailed {
		t.Errorf("seek on a stream that does not play: status %s, want %s", got, rtmp.CodeSeekFailed)
	}
	rc.write(&message.CommandAMF0{Name: "createStream", TransactionID: 2})
	sid := uint32(rc.waitCommand("_result").(*message.CommandAMF0).Args[0].(float64))
	rc.write(&message.CommandAMF0{ChunkStreamID: 8, StreamID: sid, Name: "play", Args: []any{"cam", -1.0, -1.0, false}})
	if got, _ := rc.statusCode(sid); got != rtmp.CodePlayStart { // reset false: no Play.Reset
		t.Fatalf("status = %s, want %s", got, rtmp.CodePlayStart)
	}
	rc.write(&message.CommandAMF0{ChunkStreamID: 8, StreamID: sid, Name: "seek", Args: []any{1000.0}})
	if got, _ := rc.statusCode(sid); got != rtmp.CodeSeekNotify {
		t.Errorf("seek on a live play: status %s, want %s", got, rtmp.CodeSeekNotify)
	}
}
