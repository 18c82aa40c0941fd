package message

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shoal-live/shoal/internal/rtmp/chunk"
)

// conn is a scripted connection: reads come from r, writes go to out.
type conn struct {
	r   io.Reader
	out bytes.Buffer
}

func (c *conn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c *conn) Write(p []byte) (int, error) { return c.out.Write(p) }

// readAll reads messages until EOF.
func readAll(t *testing.T, rw *ReadWriter) []Message {
	t.Helper()
	var got []Message
	for {
		m, err := rw.Read()
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatalf("Read after %d messages: %v", len(got), err)
		}
		got = append(got, m)
	}
}

func TestReadWriter_ChunkSizeBothWays(t *testing.T) {
	var wire bytes.Buffer
	sender := NewReadWriter(&struct {
		io.Reader
		io.Writer
	}{bytes.NewReader(nil), &wire}, chunk.DefaultLimits)
	video := &Video{ChunkStreamID: 6, Timestamp: 40, StreamID: 1, Payload: bytes.Repeat([]byte{0xab}, 5000)}
	msgs := []Message{&SetChunkSize{Size: 4096}, video}
	for _, m := range msgs {
		if err := sender.Write(m); err != nil {
			t.Fatalf("Write(%T): %v", m, err)
		}
	}
	if got := sender.Writer().ChunkSize(); got != 4096 {
		t.Errorf("writer chunk size after Write(SetChunkSize) = %d, want 4096", got)
	}
	// 5000 bytes in 4096-byte chunks: one continuation header. In
	// 128-byte chunks it would take 39.
	if want := 16 + 12 + 5000 + 1; wire.Len() != want {
		t.Errorf("wire holds %d bytes, want %d", wire.Len(), want)
	}

	receiver := NewReadWriter(&conn{r: &wire}, chunk.DefaultLimits)
	got := readAll(t, receiver)
	if diff := cmp.Diff(msgs, got); diff != "" {
		t.Errorf("Read mismatch (-want +got):\n%s", diff)
	}
	if got := receiver.Reader().ChunkSize(); got != 4096 {
		t.Errorf("reader chunk size = %d, want 4096", got)
	}
}

func TestReadWriter_BadChunkSizeFromPeer(t *testing.T) {
	m, err := Encode(&SetChunkSize{Size: 0})
	if err != nil {
		t.Fatal(err)
	}
	rw := NewReadWriter(&conn{r: bytes.NewReader(chunk.AppendFullMessage(nil, m, 128))}, chunk.DefaultLimits)
	if _, err := rw.Read(); !errors.Is(err, chunk.ErrInvalidChunkSize) {
		t.Fatalf("Read = %v, want ErrInvalidChunkSize", err)
	}
}

func TestReadWriter_Abort(t *testing.T) {
	// A 300-byte audio message is cut after its first chunk by an Abort;
	// the next message on the same chunk stream arrives whole.
	long := &chunk.Message{ChunkStreamID: 4, TypeID: TypeAudio, StreamID: 1, Body: bytes.Repeat([]byte{1}, 300)}
	full := chunk.AppendFullMessage(nil, long, 128)
	abort, _ := Encode(&Abort{ChunkStreamID: 4})
	short := &chunk.Message{ChunkStreamID: 4, Timestamp: 20, TypeID: TypeAudio, StreamID: 1, Body: []byte{2, 3}}
	var wire []byte
	wire = append(wire, full[:12+128]...)
	wire = chunk.AppendFullMessage(wire, abort, 128)
	wire = chunk.AppendFullMessage(wire, short, 128)

	rw := NewReadWriter(&conn{r: bytes.NewReader(wire)}, chunk.DefaultLimits)
	got := readAll(t, rw)
	want := []Message{
		&Abort{ChunkStreamID: 4},
		&Audio{ChunkStreamID: 4, Timestamp: 20, StreamID: 1, Payload: []byte{2, 3}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Read mismatch (-want +got):\n%s", diff)
	}
}

func TestReadWriter_Acknowledgements(t *testing.T) {
	// The peer sets a 100-byte window, then sends audio messages.
	w := chunk.NewWriter(nil)
	var wire []byte
	var ends []int // wire length after each message
	add := func(m Message) {
		cm, err := Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		wire = w.AppendMessage(wire, cm)
		ends = append(ends, len(wire))
	}
	add(&WindowAckSize{Size: 100})
	for i := range 6 {
		add(&Audio{Timestamp: uint32(20 * i), StreamID: 1, Payload: bytes.Repeat([]byte{byte(i)}, 60)})
	}

	// One byte per read, so that bytes read are exactly bytes consumed.
	c := &conn{r: iotest.OneByteReader(bytes.NewReader(wire))}
	rw := NewReadWriter(c, chunk.DefaultLimits)
	if got := len(readAll(t, rw)); got != 7 {
		t.Fatalf("read %d messages, want 7", got)
	}

	// Expected: an acknowledgement after the first message that brings
	// the count at least 100 past the last one.
	var want []Message
	last := 0
	for _, end := range ends[1:] {
		if end-last >= 100 {
			want = append(want, &Acknowledgement{SequenceNumber: uint32(end)})
			last = end
		}
	}
	if len(want) < 2 {
		t.Fatalf("test stream too short: %d acknowledgements expected", len(want))
	}
	got := readAll(t, NewReadWriter(&conn{r: &c.out}, chunk.DefaultLimits))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("acknowledgements mismatch (-want +got):\n%s", diff)
	}
}

// TestReadWriter_Concurrent reads on one goroutine (sending
// acknowledgements) while another writes, over TCP; run with -race.
func TestReadWriter_Concurrent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	pc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	sc, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	defer sc.Close()
	for _, c := range []net.Conn{pc, sc} {
		if err := c.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
			t.Fatal(err)
		}
	}

	const n = 200
	payload := bytes.Repeat([]byte{7}, 500)
	a := NewReadWriter(sc, chunk.DefaultLimits) // under test
	peer := NewReadWriter(pc, chunk.DefaultLimits)

	var wg sync.WaitGroup
	errs := make(chan error, 4)
	wg.Go(func() { // peer sends a small window, then audio
		if err := peer.Write(&WindowAckSize{Size: 4096}); err != nil {
			errs <- err
			return
		}
		for i := range n {
			if err := peer.Write(&Audio{Timestamp: uint32(i), StreamID: 1, Payload: payload}); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Go(func() { // a reads everything, acknowledging as it goes
		for range n + 1 {
			if _, err := a.Read(); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Go(func() { // a writes video meanwhile
		for i := range n {
			if err := a.Write(&Video{Timestamp: uint32(i), StreamID: 1, Payload: payload}); err != nil {
				errs <- err
				return
			}
		}
	})
	acks := 0
	wg.Go(func() { // peer reads a's video and at least one acknowledgement
		videos := 0
		for videos < n || acks == 0 {
			m, err := peer.Read()
			if err != nil {
				errs <- err
				return
			}
			switch m.(type) {
			case *Video:
				videos++
			case *Acknowledgement:
				acks++
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if acks == 0 {
		t.Errorf("peer received no acknowledgement for %d bytes with a 4096-byte window", n*len(payload))
	}
}

func TestReadWriter_UnknownOutlivesNextRead(t *testing.T) {
	w := chunk.NewWriter(nil)
	var wire []byte
	wire = w.AppendMessage(wire, &chunk.Message{ChunkStreamID: 3, TypeID: 7, Body: []byte{1}})
	wire = w.AppendMessage(wire, &chunk.Message{ChunkStreamID: 3, Timestamp: 9, TypeID: 7, Body: []byte{2}})
	got := readAll(t, NewReadWriter(&conn{r: bytes.NewReader(wire)}, chunk.DefaultLimits))
	want := []Message{
		&Unknown{Raw: &chunk.Message{ChunkStreamID: 3, TypeID: 7, Body: []byte{1}}},
		&Unknown{Raw: &chunk.Message{ChunkStreamID: 3, Timestamp: 9, TypeID: 7, Body: []byte{2}}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Read mismatch (-want +got):\n%s", diff)
	}
}

func BenchmarkReadWriter_ReadVideo(b *testing.B) {
	w := chunk.NewWriter(nil)
	w.SetChunkSize(4096)
	var wire []byte
	payload := make([]byte, 6000)
	set, _ := Encode(&SetChunkSize{Size: 4096})
	wire = w.AppendMessage(wire, set)
	start := len(wire)
	for i := range 100 {
		wire = w.AppendMessage(wire, &chunk.Message{ChunkStreamID: 6, Timestamp: uint32(40 * i), TypeID: TypeVideo, StreamID: 1, Body: payload})
	}
	// Loop over the video part: after the first pass the chunk size is set
	// and the repeated fmt 0 header restarts the timestamps.
	r := &loopReader{b: wire, loopFrom: start}
	rw := NewReadWriter(&conn{r: r}, chunk.DefaultLimits)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for range b.N {
		if _, err := rw.Read(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadWriter_WriteVideo(b *testing.B) {
	rw := NewReadWriter(&struct {
		io.Reader
		io.Writer
	}{bytes.NewReader(nil), io.Discard}, chunk.DefaultLimits)
	rw.Writer().SetChunkSize(4096)
	v := &Video{StreamID: 1, Payload: make([]byte, 6000)}
	b.SetBytes(int64(len(v.Payload)))
	b.ReportAllocs()
	for i := range b.N {
		v.Timestamp = uint32(40 * i)
		if err := rw.Write(v); err != nil {
			b.Fatal(err)
		}
	}
}

// loopReader returns b, then b[loopFrom:] over and over.
type loopReader struct {
	b        []byte
	off      int
	loopFrom int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.b[l.off:])
	l.off += n
	if l.off == len(l.b) {
		l.off = l.loopFrom
	}
	return n, nil
}
