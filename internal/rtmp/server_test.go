package rtmp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shoal-live/shoal/internal/flv"
	"github.com/shoal-live/shoal/internal/rtmp"
	"github.com/shoal-live/shoal/internal/rtmp/amf"
	"github.com/shoal-live/shoal/internal/rtmp/message"
	"github.com/shoal-live/shoal/internal/rtmp/rtmptest"
)

// packetView is what tests compare of a packet.
type packetView struct {
	Type           flv.PacketType
	Timestamp      uint32
	Keyframe       bool
	SequenceHeader bool
	Payload        string // a string: cmp compares it in one step
}

func views(pkts []*flv.Packet) []packetView {
	out := make([]packetView, len(pkts))
	for i, p := range pkts {
		out[i] = packetView{p.Type, p.Timestamp, p.Keyframe, p.SequenceHeader, string(p.Payload)}
	}
	return out
}

// startServer runs a server with reg and a recording logger.
func startServer(t *testing.T, reg *registry, configure ...func(*rtmp.Server)) (string, *logRecorder) {
	t.Helper()
	logs := newLogRecorder(t)
	srv := &rtmp.Server{Addr: "127.0.0.1:0", Handler: reg, Logger: slog.New(logs)}
	for _, f := range configure {
		f(srv)
	}
	return rtmptest.Run(t, srv), logs
}

func TestRTMPConnect(t *testing.T) {
	reg := newRegistry()
	reg.rejectApp = "closed"
	addr, _ := startServer(t, reg)

	for _, oe := range []float64{0, 3} {
		t.Run(fmt.Sprintf("objectEncoding %v", oe), func(t *testing.T) {
			c := dial(t, addr, "live/room", rtmp.ClientOptions{ObjectEncoding: oe})
			if got := c.ObjectEncoding(); got != oe {
				t.Errorf("ObjectEncoding() = %v, want %v", got, oe)
			}
			checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
				reg.mu.Lock()
				defer reg.mu.Unlock()
				for sc := range reg.mu.conns {
					if sc.ObjectEncoding() == oe && sc.App() == "live" && sc.ScopePath() == "live/room" {
						return nil
					}
				}
				return fmt.Errorf("no server conn with app live, scope live/room, objectEncoding %v", oe)
			})
		})
	}

	t.Run("rejected", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		c, err := rtmp.Dial(ctx, "rtmp://"+addr+"/closed", rtmp.ClientOptions{})
		if err == nil {
			_ = c.Close()
			t.Fatal("Dial to a rejecting app succeeded")
		}
		var se *rtmp.StatusError
		if !errors.As(err, &se) {
			t.Fatalf("Dial error = %v, want a *StatusError", err)
		}
		want := rtmp.StatusError{Level: "error", Code: rtmp.CodeConnectRejected, Description: "app closed is closed"}
		if diff := cmp.Diff(want, *se); diff != "" {
			t.Errorf("status (-want +got):\n%s", diff)
		}
	})
}

// TestRTMPConnectAMF3Wire checks the wire form of the answers to an AMF3
// connect: type 17 commands and objectEncoding 3 in the _result.
func TestRTMPConnectAMF3Wire(t *testing.T) {
	addr, _ := startServer(t, newRegistry())
	for _, tc := range []struct {
		name     string
		oe       float64
		wantType uint8
	}{
		{"amf0", 0, message.TypeCommandAMF0},
		{"amf3", 3, message.TypeCommandAMF3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, addr)
			res := rc.connect("live", tc.oe)
			if res.Type() != tc.wantType {
				t.Fatalf("connect answer type = %d, want %d", res.Type(), tc.wantType)
			}
			var args []any
			var obj any
			switch m := res.(type) {
			case *message.CommandAMF0:
				obj, args = m.Object, m.Args
			case *message.CommandAMF3:
				obj, args = m.Object, m.Args
			}
			props, _ := obj.(amf.Object)
			if v, _ := props.Get("fmsVer"); v != "FMS/3,5,7,7009" {
				t.Errorf("fmsVer = %v, want FMS/3,5,7,7009", v)
			}
			if len(args) != 1 {
				t.Fatalf("_result args = %v, want one info object", args)
			}
			info, _ := args[0].(amf.Object)
			for key, want := range map[string]any{"code": rtmp.CodeConnectSuccess, "level": "status", "objectEncoding": tc.oe} {
				if got, _ := info.Get(key); got != want {
					t.Errorf("info %s = %v, want %v", key, got, want)
				}
			}
			// Later commands keep the encoding.
			rc.write(&message.CommandAMF0{Name: "createStream", TransactionID: 2})
			if res := rc.waitCommand("_result"); res.Type() != tc.wantType {
				t.Errorf("createStream answer type = %d, want %d", res.Type(), tc.wantType)
			}
			// Shared objects come back as type 16 on AMF3 connections.
			body := []byte{0, 1, 'x', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}
			rc.write(&message.SharedObject{AMF3: tc.oe == 3, Body: body})
			msg, err := rc.read()
			if err != nil {
				t.Fatalf("read echoed shared object: %v", err)
			}
			want := &message.SharedObject{AMF3: tc.oe == 3, Body: body}
			if diff := cmp.Diff(want, msg); diff != "" {
				t.Errorf("echoed shared object (-want +got):\n%s", diff)
			}
		})
	}
}

// publishStream publishes name on a new connection and returns it.
func publishStream(t *testing.T, addr, app, name string) *rtmp.ClientConn {
	t.Helper()
	pub := dial(t, addr, app, rtmp.ClientOptions{})
	if err := pub.Publish(t.Context(), name); err != nil {
		t.Fatalf("Publish(%q): %v", name, err)
	}
	return pub
}

func writeAll(t *testing.T, c *rtmp.ClientConn, pkts []*flv.Packet) {
	t.Helper()
	for _, p := range pkts {
		if err := c.WritePacket(p); err != nil {
			t.Fatalf("WritePacket: %v", err)
		}
	}
}

func TestRTMPPublishPlay(t *testing.T) {
	reg := newRegistry()
	addr, _ := startServer(t, reg)
	stream := rtmptest.Stream(4, 25) // 2 headers + 4 GOPs of 25 video + 25 audio
	firstGOP := stream[:2+50]

	pub := publishStream(t, addr, "live", "room/cam?token=secret")
	writeAll(t, pub, firstGOP)
	ls := reg.stream("live/room/cam")
	if ls == nil {
		t.Fatal("no stream live/room/cam in the registry")
	}
	checkFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		if n := ls.received(); n != len(firstGOP) {
			return fmt.Errorf("stream received %d packets, want %d", n, len(firstGOP))
		}
		return nil
	})

	// Flash style (room in the app) and ffmpeg style (room in the name)
	// address the same stream.
	players := []*rtmp.ClientConn{
		dial(t, addr, "live/room", rtmp.ClientOptions{}),
		dial(t, addr, "live", rtmp.ClientOptions{ObjectEncoding: 3}),
	}
	for i, name := range []string{"cam", "room/cam"} {
		if err := players[i].Play(t.Context(), name); err != nil {
			t.Fatalf("player %d: Play(%q): %v", i, name, err)
		}
	}
	writeAll(t, pub, stream[len(firstGOP):])

	// Each player gets the headers, then the cached GOP from its keyframe,
	// then everything after it, in order.
	want := views(stream)
	for i, pl := range players {
		got := views(readPackets(t, pl, len(stream)))
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("player %d packets (-want +got):\n%s", i, diff)
		}
		if !got[2].Keyframe {
			t.Errorf("player %d: first media packet is not a keyframe", i)
		}
	}

	// Unpublishing ends both players with io.EOF.
	if err := pub.Close(); err != nil {
		t.Fatalf("publisher Close: %v", err)
	}
	for i, pl := range players {
		if p, err := pl.ReadPacket(); !errors.Is(err, io.EOF) {
			t.Errorf("player %d: ReadPacket after unpublish = %v, %v; want io.EOF", i, p, err)
		}
	}
}

func TestRTMPMetadata(t *testing.T) {
	reg := newRegistry()
	addr, _ := startServer(t, reg)
	pub := publishStream(t, addr, "live", "meta")
	meta, err := amf.Marshal("onMetaData", amf.ECMAArray{{Key: "width", Value: 320.0}, {Key: "height", Value: 240.0}})
	if err != nil {
		t.Fatal(err)
	}
	// The client wraps onMetaData in @setDataFrame; the server must unwrap it.
	writeAll(t, pub, []*flv.Packet{flv.NewPacket(flv.PacketData, 0, meta), rtmptest.AVCSequenceHeader(0), rtmptest.AVCKeyframe(0, 100)})
	checkFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		if n := reg.stream("live/meta").received(); n != 3 {
			return fmt.Errorf("stream received %d packets, want 3", n)
		}
		return nil
	})
	pl := dial(t, addr, "live", rtmp.ClientOptions{})
	if err := pl.Play(t.Context(), "meta"); err != nil {
		t.Fatalf("Play: %v", err)
	}
	got := readPackets(t, pl, 3)
	if got[0].Type != flv.PacketData || string(got[0].Payload) != string(meta) {
		t.Errorf("first packet = type %d payload %q, want onMetaData %q", got[0].Type, got[0].Payload, meta)
	}
}

func TestRTMPPublishBadName(t *testing.T) {
	addr, _ := startServer(t, newRegistry())
	publishStream(t, addr, "live", "taken")
	second := dial(t, addr, "live", rtmp.ClientOptions{})
	err := second.Publish(t.Context(), "taken")
	var se *rtmp.StatusError
	if !errors.As(err, &se) || se.Code != rtmp.CodePublishBadName {
		t.Fatalf("second Publish = %v, want StatusError %s", err, rtmp.CodePublishBadName)
	}
	// The connection stays usable.
	if err := second.Publish(t.Context(), "other"); err != nil {
		t.Errorf("Publish(other) after BadName: %v", err)
	}
}

func TestRTMPPlayStreamNotFound(t *testing.T) {
	addr, _ := startServer(t, newRegistry())
	c := dial(t, addr, "live", rtmp.ClientOptions{})
	err := c.Play(t.Context(), "nothing")
	var se *rtmp.StatusError
	if !errors.As(err, &se) || se.Code != rtmp.CodePlayStreamNotFound || se.Level != "error" {
		t.Fatalf("Play = %v, want StatusError %s", err, rtmp.CodePlayStreamNotFound)
	}
}

func TestRTMPUnknownCommand(t *testing.T) {
	addr, _ := startServer(t, newRegistry())
	c := dial(t, addr, "live", rtmp.ClientOptions{})
	for range 2 { // twice: the connection must stay open after the first
		_, err := c.Call(t.Context(), "noSuchMethod", "x", 1.0)
		var se *rtmp.StatusError
		if !errors.As(err, &se) || se.Code != rtmp.CodeCallFailed || !strings.Contains(se.Description, "noSuchMethod") {
			t.Fatalf("Call(noSuchMethod) = %v, want StatusError %s naming the method", err, rtmp.CodeCallFailed)
		}
	}
	res, err := c.Call(t.Context(), "getStreamLength", "x")
	if err != nil {
		t.Fatalf("Call(getStreamLength) after unknown commands: %v", err)
	}
	if diff := cmp.Diff([]any{nil, 0.0}, res); diff != "" {
		t.Errorf("getStreamLength result (-want +got):\n%s", diff)
	}
}

func TestRTMPSharedObjectEcho(t *testing.T) {
	addr, _ := startServer(t, newRegistry())
	for _, oe := range []float64{0, 3} {
		t.Run(fmt.Sprintf("objectEncoding %v", oe), func(t *testing.T) {
			c := dial(t, addr, "live", rtmp.ClientOptions{ObjectEncoding: oe})
			got := make(chan []byte, 1)
			c.OnSharedObject(func(body []byte) { got <- body })
			body := []byte{0x00, 0x04, 'b', 'a', 'l', 'l', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0}
			if err := c.SendSharedObject(body); err != nil {
				t.Fatalf("SendSharedObject: %v", err)
			}
			select {
			case b := <-got:
				if diff := cmp.Diff(body, b); diff != "" {
					t.Errorf("echoed body (-want +got):\n%s", diff)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no shared object message echoed")
			}
		})
	}
}

func TestRTMPPing(t *testing.T) {
	addr, _ := startServer(t, newRegistry(), func(s *rtmp.Server) { s.ReadTimeout = 600 * time.Millisecond })
	rc := dialRaw(t, addr)
	rc.connect("live", 0)

	// The client pings; the server answers with the same timestamp.
	rc.write(&message.UserControl{Event: message.UserControlPingRequest, Timestamp: 12345})
	msg, err := rc.read()
	if err != nil {
		t.Fatalf("read ping response: %v", err)
	}
	if diff := cmp.Diff(&message.UserControl{Event: message.UserControlPingResponse, Timestamp: 12345}, msg); diff != "" {
		t.Errorf("ping response (-want +got):\n%s", diff)
	}

	// A quiet client gets a ping request after half the read timeout ...
	start := time.Now()
	msg, err = rc.read()
	if err != nil {
		t.Fatalf("read ping request: %v", err)
	}
	if uc, ok := msg.(*message.UserControl); !ok || uc.Event != message.UserControlPingRequest {
		t.Fatalf("message from server = %#v, want a ping request", msg)
	}
	// ... answering keeps it open; not answering closes it.
	rc.write(&message.UserControl{Event: message.UserControlPingResponse})
	if err := rc.waitClosed(400 * time.Millisecond); err == nil {
		t.Fatalf("server closed a connection that answered its ping")
	}
	if err := rc.waitClosed(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 600*time.Millisecond {
		t.Errorf("connection closed %v after the ping, want at least the read timeout", d)
	}
}
