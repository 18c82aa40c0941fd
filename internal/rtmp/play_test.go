package rtmp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shoal-live/shoal/internal/flv"
	"github.com/shoal-live/shoal/internal/rtmp/amf"
	"github.com/shoal-live/shoal/internal/rtmp/chunk"
	"github.com/shoal-live/shoal/internal/rtmp/handshake"
	"github.com/shoal-live/shoal/internal/rtmp/message"
	"github.com/shoal-live/shoal/internal/stream"
)

// arrival is a media message as a player saw it: when (since the test
// started, in the synctest bubble's clock) and which packet (its timestamp
// names it).
type arrival struct {
	At time.Duration
	TS uint32
}

func (a arrival) String() string { return fmt.Sprintf("%d@%v", a.TS, a.At) }

// arrivals records the media messages read from a connection.
type arrivals struct {
	start time.Time
	mu    sync.Mutex
	got   []arrival
}

// record reads messages with next until it fails, recording audio and
// video messages.
func (a *arrivals) record(next func() (uint8, uint32, error)) {
	for {
		typeID, ts, err := next()
		if err != nil {
			return
		}
		if typeID == message.TypeAudio || typeID == message.TypeVideo {
			now := time.Now()
			a.mu.Lock()
			a.got = append(a.got, arrival{At: now.Sub(a.start), TS: ts})
			a.mu.Unlock()
		}
	}
}

// setStart sets the time arrivals are counted from.
func (a *arrivals) setStart(t time.Time) {
	a.mu.Lock()
	a.start = t
	a.mu.Unlock()
}

func (a *arrivals) list() []arrival {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]arrival(nil), a.got...)
}

// sendAt is a packet the test publishes at a time since the start.
type sendAt struct {
	at time.Duration
	ts uint32
}

// publishSchedule writes an audio packet for each entry at its time.
func publishSchedule(pub *stream.Publisher, start time.Time, schedule []sendAt) {
	for _, s := range schedule {
		time.Sleep(time.Until(start.Add(s.at)))
		pub.WritePacket(flv.NewPacket(flv.PacketAudio, s.ts, []byte{0xaf, 0x01, byte(s.ts), 0x55}))
	}
}

// mergeSchedule publishes a packet, nine more 10ms apart, one after the
// window, then nothing for long enough to make the stream idle, then a
// short burst.
var mergeSchedule = []sendAt{
	{0, 0},
	{10 * time.Millisecond, 10},
	{20 * time.Millisecond, 20},
	{30 * time.Millisecond, 30},
	{40 * time.Millisecond, 40},
	{50 * time.Millisecond, 50},
	{60 * time.Millisecond, 60},
	{70 * time.Millisecond, 70},
	{80 * time.Millisecond, 80},
	{90 * time.Millisecond, 90},
	{150 * time.Millisecond, 150},
	{1000 * time.Millisecond, 1000},
	{1010 * time.Millisecond, 1010},
	{1020 * time.Millisecond, 1020},
}

// unmerged is what a player gets when every packet is written at once.
func unmerged(schedule []sendAt) []arrival {
	var out []arrival
	for _, s := range schedule {
		out = append(out, arrival{At: s.at, TS: s.ts})
	}
	return out
}

// TestPlayWriteMerge runs the play loop on a stream subscriber over a pipe
// in a synctest bubble and checks when each packet reaches the player: in
// publishing order, with the window after each write honoured, and
// without delay for the first packet of an idle stream.
func TestPlayWriteMerge(t *testing.T) {
	tests := []struct {
		name       string
		merge      time.Duration
		want       []arrival
		wantWrites uint64
	}{
		{
			name:  "100ms window",
			merge: 100 * time.Millisecond,
			want: []arrival{
				{0, 0}, // the first packet of an idle stream: at once
				// The nine packets of the window: together, when it ends.
				{100 * time.Millisecond, 10},
				{100 * time.Millisecond, 20},
				{100 * time.Millisecond, 30},
				{100 * time.Millisecond, 40},
				{100 * time.Millisecond, 50},
				{100 * time.Millisecond, 60},
				{100 * time.Millisecond, 70},
				{100 * time.Millisecond, 80},
				{100 * time.Millisecond, 90},
				{200 * time.Millisecond, 150},   // waits for the window of the write at 100ms
				{1000 * time.Millisecond, 1000}, // idle since 200ms: at once
				{1100 * time.Millisecond, 1010},
				{1100 * time.Millisecond, 1020},
			},
			wantWrites: 5,
		},
		{
			name:       "no window",
			merge:      0,
			want:       unmerged(mergeSchedule),
			wantWrites: uint64(len(mergeSchedule)),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				reg := stream.NewRegistry(stream.Config{}, slog.New(slog.DiscardHandler))
				pub, err := reg.Publish("live/s")
				if err != nil {
					t.Fatal(err)
				}
				sub, err := reg.Subscribe("live/s", false)
				if err != nil {
					t.Fatal(err)
				}
				client, server := net.Pipe()
				defer client.Close()
				cfg := connConfig{writeTimeout: DefaultWriteTimeout, chunkSize: DefaultChunkSize}
				c := newServerConn(server, "1", cfg, nil, &serverCounters{}, slog.New(slog.DiscardHandler))
				w := &playWriter{c: c, streamID: 1, chunkSize: DefaultChunkSize, merge: tc.merge}

				a := &arrivals{start: time.Now()}
				var wg sync.WaitGroup
				r := chunk.NewReader(client, chunk.Limits{})
				wg.Go(func() {
					a.record(func() (uint8, uint32, error) {
						m, err := r.Read()
						if err != nil {
							return 0, 0, err
						}
						return m.TypeID, m.Timestamp, nil
					})
				})
				ctx, cancel := context.WithCancel(t.Context())
				wg.Go(func() {
					defer sub.Close()
					w.run(ctx, sub)
				})

				publishSchedule(pub, a.start, mergeSchedule)
				time.Sleep(time.Second) // any window left ends
				synctest.Wait()
				cancel()
				_ = server.Close()
				wg.Wait()
				pub.Close()

				if diff := cmp.Diff(tc.want, a.list()); diff != "" {
					t.Errorf("arrivals (ts@time) (-want +got):\n%s", diff)
				}
				if w.writes != tc.wantWrites || w.packets != uint64(len(mergeSchedule)) {
					t.Errorf("%d writes carried %d packets, want %d writes for %d", w.writes, w.packets, tc.wantWrites, len(mergeSchedule))
				}
			})
		})
	}
}

// TestPlayWriteMergeSteadyStream checks writes per packet for a steady
// stream like the benchmark clip's (30 video and 43 audio frames a
// second) over ten seconds: about one write per window instead of one per
// packet.
func TestPlayWriteMergeSteadyStream(t *testing.T) {
	tests := []struct {
		merge     time.Duration
		maxWrites uint64 // over the 10s: one a window, and the first
	}{
		{merge: 0, maxWrites: 730},
		{merge: 50 * time.Millisecond, maxWrites: 10*20 + 1},
		{merge: 100 * time.Millisecond, maxWrites: 10*10 + 1},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.merge), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				reg := stream.NewRegistry(stream.Config{}, slog.New(slog.DiscardHandler))
				pub, err := reg.Publish("live/s")
				if err != nil {
					t.Fatal(err)
				}
				sub, err := reg.Subscribe("live/s", false)
				if err != nil {
					t.Fatal(err)
				}
				client, server := net.Pipe()
				defer client.Close()
				cfg := connConfig{writeTimeout: DefaultWriteTimeout, chunkSize: DefaultChunkSize}
				c := newServerConn(server, "1", cfg, nil, &serverCounters{}, slog.New(slog.DiscardHandler))
				w := &playWriter{c: c, streamID: 1, chunkSize: DefaultChunkSize, merge: tc.merge}
				var wg sync.WaitGroup
				wg.Go(func() { _, _ = io.Copy(io.Discard, client) })
				ctx, cancel := context.WithCancel(t.Context())
				wg.Go(func() {
					defer sub.Close()
					w.run(ctx, sub)
				})

				// Video every 33ms, audio every 23ms, for 10s.
				var schedule []sendAt
				for v, a := 0, 0; v < 300 || a < 430; {
					tv, ta := time.Duration(v)*100*time.Millisecond/3, time.Duration(a)*23*time.Millisecond
					if v < 300 && (a >= 430 || tv <= ta) {
						schedule = append(schedule, sendAt{tv, uint32(tv.Milliseconds())})
						v++
					} else {
						schedule = append(schedule, sendAt{ta, uint32(ta.Milliseconds())})
						a++
					}
				}
				publishSchedule(pub, time.Now(), schedule)
				time.Sleep(time.Second)
				synctest.Wait()
				cancel()
				_ = server.Close()
				wg.Wait()
				pub.Close()

				if w.packets != uint64(len(schedule)) {
					t.Fatalf("wrote %d packets, want %d", w.packets, len(schedule))
				}
				if w.writes > tc.maxWrites {
					t.Errorf("%d writes for %d packets (%.2f per packet), want at most %d", w.writes, w.packets,
						float64(w.writes)/float64(w.packets), tc.maxWrites)
				}
				t.Logf("window %v: %d writes for %d packets, %.3f writes per packet", tc.merge, w.writes, w.packets,
					float64(w.writes)/float64(w.packets))
			})
		})
	}
}

// readAhead is the client end of a net.Pipe that reads ahead on its own
// goroutine, so that the server's writes do not wait for the client to
// read, as over TCP (the handshake needs it: the client writes C2 before
// it reads S2).
type readAhead struct {
	net.Conn
	ch   chan []byte // closed after err is set
	err  error
	rest []byte
}

// newReadAhead starts reading c on a goroutine of wg.
func newReadAhead(c net.Conn, wg *sync.WaitGroup) *readAhead {
	r := &readAhead{Conn: c, ch: make(chan []byte, 1024)}
	wg.Go(func() {
		defer close(r.ch)
		for {
			b := make([]byte, 64<<10)
			n, err := c.Read(b)
			if n > 0 {
				r.ch <- b[:n]
			}
			if err != nil {
				r.err = err
				return
			}
		}
	})
	return r
}

func (r *readAhead) Read(p []byte) (int, error) {
	if len(r.rest) == 0 {
		b, ok := <-r.ch
		if !ok {
			return 0, r.err
		}
		r.rest = b
	}
	n := copy(p, r.rest)
	r.rest = r.rest[n:]
	return n, nil
}

// mergeHandler plays live/s from a stream registry and lets a test choose
// per connection whether to opt out of the write merge.
type mergeHandler struct {
	reg    *stream.Registry
	optOut func(c *ServerConn) bool
}

func (h *mergeHandler) Connect(*ServerConn) error { return nil }
func (h *mergeHandler) Publish(*ServerConn, *ServerStream) (Publisher, error) {
	return nil, errors.New("no publishing here")
}
func (h *mergeHandler) SharedObject(*ServerConn, *message.SharedObject) {}
func (h *mergeHandler) Disconnect(*ServerConn)                          {}

func (h *mergeHandler) Play(c *ServerConn, s *ServerStream) (Source, error) {
	if h.optOut(c) {
		s.SetWriteMerge(0)
	}
	return h.reg.Subscribe(s.Path(), true)
}

// TestPlayWriteMergeOptOut plays through a whole server connection: a
// player gets the server's window, a connection whose Handler.Play calls
// SetWriteMerge(0) (an edge's relay pull) gets every packet at once.
func TestPlayWriteMergeOptOut(t *testing.T) {
	const relayFlashVer = "ShoalRelay/1.0"
	const window = 100 * time.Millisecond
	synctest.Test(t, func(t *testing.T) {
		reg := stream.NewRegistry(stream.Config{}, slog.New(slog.DiscardHandler))
		h := &mergeHandler{reg: reg, optOut: func(c *ServerConn) bool {
			v, _ := c.ConnectObject().Get("flashVer")
			return v == relayFlashVer
		}}
		cfg := connConfig{
			handshakeTimeout: DefaultHandshakeTimeout, readTimeout: DefaultReadTimeout,
			writeTimeout: DefaultWriteTimeout, writeMerge: window,
			chunkSize: DefaultChunkSize, windowAckSize: DefaultWindowAckSize,
		}
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		start := time.Now()
		play := func(id, flashVer string) *arrivals {
			pc, server := net.Pipe()
			c := newServerConn(server, id, cfg, h, &serverCounters{}, slog.New(slog.DiscardHandler))
			wg.Go(func() { c.serve(ctx) })
			client := newReadAhead(pc, &wg)
			if err := handshake.Client(client); err != nil {
				t.Fatalf("handshake: %v", err)
			}
			rw := message.NewReadWriter(client, chunk.Limits{})
			a := &arrivals{start: start}
			wg.Go(func() {
				defer client.Close()
				a.record(func() (uint8, uint32, error) {
					msg, err := rw.Read()
					if err != nil {
						return 0, 0, err
					}
					switch m := msg.(type) {
					case *message.Audio:
						return message.TypeAudio, m.Timestamp, nil
					case *message.Video:
						return message.TypeVideo, m.Timestamp, nil
					}
					return 0, 0, nil
				})
			})
			for _, m := range []message.Message{
				&message.CommandAMF0{Name: "connect", TransactionID: 1, Object: amf.Object{
					{Key: "app", Value: "live"},
					{Key: "flashVer", Value: flashVer},
					{Key: "tcUrl", Value: "rtmp://127.0.0.1/live"},
				}},
				&message.CommandAMF0{Name: "play", StreamID: 1, Args: []any{"s"}},
			} {
				if err := rw.Write(m); err != nil {
					t.Fatalf("write %s: %v", m.(*message.CommandAMF0).Name, err)
				}
			}
			return a
		}
		player := play("player", "LNX 9,0,124,2")
		relay := play("relay", relayFlashVer)
		synctest.Wait() // both play: subscribed, waiting for a publisher

		pub, err := reg.Publish("live/s")
		if err != nil {
			t.Fatal(err)
		}
		start = time.Now()
		player.setStart(start)
		relay.setStart(start)
		publishSchedule(pub, start, mergeSchedule)
		time.Sleep(time.Second)
		synctest.Wait()
		cancel()
		wg.Wait()
		pub.Close()

		if diff := cmp.Diff(unmerged(mergeSchedule), relay.list()); diff != "" {
			t.Errorf("relay pull arrivals (ts@time) (-want +got):\n%s", diff)
		}
		got := player.list()
		if len(got) != len(mergeSchedule) || got[1] != (arrival{At: window, TS: 10}) {
			t.Errorf("player arrivals = %v, want %d with the packet of 10ms at %v", got, len(mergeSchedule), window)
		}
	})
}

// TestWriteDeadlineRenewedWhenHalfSpent checks that a write renews the
// write deadline only when less than half of the timeout is left: a
// blocked write fails at the deadline of an earlier write, or at its own.
func TestWriteDeadlineRenewedWhenHalfSpent(t *testing.T) {
	const timeout = 10 * time.Second
	tests := []struct {
		name        string
		secondWrite time.Duration // after the first, which sets the deadline
		wantFailAt  time.Duration
	}{
		{name: "more than half left: kept", secondWrite: 4 * time.Second, wantFailAt: timeout},
		{name: "less than half left: renewed", secondWrite: 6 * time.Second, wantFailAt: 6*time.Second + timeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				client, server := net.Pipe()
				defer client.Close()
				cfg := connConfig{writeTimeout: timeout, chunkSize: DefaultChunkSize}
				c := newServerConn(server, "1", cfg, nil, &serverCounters{}, slog.New(slog.DiscardHandler))
				start := time.Now()
				go func() { _, _ = client.Read(make([]byte, 64)) }() // takes the first write only
				if err := c.writeRaw([][]byte{[]byte("first")}, time.Now()); err != nil {
					t.Fatalf("first write: %v", err)
				}
				time.Sleep(tc.secondWrite)
				err := c.writeRaw([][]byte{[]byte("second")}, time.Now())
				if got := time.Since(start); err == nil || got != tc.wantFailAt {
					t.Errorf("blocked write returned %v at %v, want a timeout at %v", err, got, tc.wantFailAt)
				}
			})
		})
	}
}
