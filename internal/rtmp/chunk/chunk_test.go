package chunk

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// h decodes hex with spaces.
func h(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// seq returns n bytes counting up from 0 (mod 256).
func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// cat concatenates byte slices.
func cat(parts ...[]byte) []byte {
	return bytes.Join(parts, nil)
}

// codecCase is one entry of the table used for decoding, encoding and fuzz
// seeds: msgs, sent in order with chunkSize, are raw on the wire.
type codecCase struct {
	name      string
	chunkSize uint32 // 0 means DefaultChunkSize
	msgs      []*Message
	raw       []byte
	// decodeOnly marks input a peer may send that our Writer encodes
	// differently (interleaving, other header choices).
	decodeOnly bool
}

var codecCases = []codecCase{
	{
		name: "fmt 0 single chunk",
		msgs: []*Message{{ChunkStreamID: 3, TypeID: 20, Body: seq(4)}},
		raw:  cat(h("03 000000 000004 14 00000000"), seq(4)),
	},
	{
		name: "basic header 2 bytes csid 64",
		msgs: []*Message{{ChunkStreamID: 64, Timestamp: 1, TypeID: 8, StreamID: 1, Body: seq(2)}},
		raw:  cat(h("00 00 000001 000002 08 01000000"), seq(2)),
	},
	{
		name: "basic header 2 bytes csid 319",
		msgs: []*Message{{ChunkStreamID: 319, TypeID: 8, StreamID: 1, Body: seq(2)}},
		raw:  cat(h("00 ff 000000 000002 08 01000000"), seq(2)),
	},
	{
		name: "basic header 3 bytes csid 320",
		msgs: []*Message{{ChunkStreamID: 320, TypeID: 9, StreamID: 1, Body: seq(2)}},
		raw:  cat(h("01 00 01 000000 000002 09 01000000"), seq(2)),
	},
	{
		name: "basic header 3 bytes csid 65599",
		msgs: []*Message{{ChunkStreamID: 65599, TypeID: 9, StreamID: 1, Body: seq(2)}},
		raw:  cat(h("01 ff ff 000000 000002 09 01000000"), seq(2)),
	},
	{
		name: "basic header 3 bytes with fmt 3 continuation",
		msgs: []*Message{{ChunkStreamID: 400, TypeID: 9, StreamID: 1, Body: seq(130)}},
		raw:  cat(h("01 50 01 000000 000082 09 01000000"), seq(130)[:128], h("c1 50 01"), seq(130)[128:]),
	},
	{
		name: "fmt 1 for new length and type",
		msgs: []*Message{
			{ChunkStreamID: 4, Timestamp: 10, TypeID: 8, StreamID: 1, Body: seq(3)},
			{ChunkStreamID: 4, Timestamp: 30, TypeID: 9, StreamID: 1, Body: seq(5)},
		},
		raw: cat(h("04 00000a 000003 08 01000000"), seq(3), h("44 000014 000005 09"), seq(5)),
	},
	{
		name: "fmt 2 for new delta",
		msgs: []*Message{
			{ChunkStreamID: 4, Timestamp: 10, TypeID: 8, StreamID: 1, Body: seq(3)},
			{ChunkStreamID: 4, Timestamp: 30, TypeID: 8, StreamID: 1, Body: seq(3)},
		},
		raw: cat(h("04 00000a 000003 08 01000000"), seq(3), h("84 000014"), seq(3)),
	},
	{
		name: "fmt 3 for same delta",
		msgs: []*Message{
			{ChunkStreamID: 4, Timestamp: 10, TypeID: 8, StreamID: 1, Body: seq(3)},
			{ChunkStreamID: 4, Timestamp: 30, TypeID: 8, StreamID: 1, Body: seq(3)},
			{ChunkStreamID: 4, Timestamp: 50, TypeID: 8, StreamID: 1, Body: seq(3)},
			{ChunkStreamID: 4, Timestamp: 70, TypeID: 8, StreamID: 1, Body: seq(3)},
		},
		raw: cat(h("04 00000a 000003 08 01000000"), seq(3), h("84 000014"), seq(3), h("c4"), seq(3), h("c4"), seq(3)),
	},
	{
		name: "fmt 3 continuation chunks",
		msgs: []*Message{{ChunkStreamID: 6, TypeID: 9, StreamID: 1, Body: seq(300)}},
		raw:  cat(h("06 000000 00012c 09 01000000"), seq(300)[:128], h("c6"), seq(300)[128:256], h("c6"), seq(300)[256:]),
	},
	{
		name:      "chunk size 4096",
		chunkSize: 4096,
		msgs:      []*Message{{ChunkStreamID: 6, Timestamp: 5, TypeID: 9, StreamID: 1, Body: seq(5000)}},
		raw:       cat(h("06 000005 001388 09 01000000"), seq(5000)[:4096], h("c6"), seq(5000)[4096:]),
	},
	{
		name: "extended timestamp on fmt 0 and continuation",
		msgs: []*Message{{ChunkStreamID: 6, Timestamp: 0x01000000, TypeID: 9, StreamID: 1, Body: seq(200)}},
		raw:  cat(h("06 ffffff 0000c8 09 01000000 01000000"), seq(200)[:128], h("c6 01000000"), seq(200)[128:]),
	},
	{
		name: "extended timestamp at exactly 0xffffff",
		msgs: []*Message{{ChunkStreamID: 6, Timestamp: 0xffffff, TypeID: 9, StreamID: 1, Body: seq(2)}},
		raw:  cat(h("06 ffffff 000002 09 01000000 00ffffff"), seq(2)),
	},
	{
		name: "extended timestamp delta on fmt 2 and fmt 3",
		msgs: []*Message{
			{ChunkStreamID: 6, TypeID: 9, StreamID: 1, Body: seq(2)},
			{ChunkStreamID: 6, Timestamp: 0x01000005, TypeID: 9, StreamID: 1, Body: seq(2)},
			{ChunkStreamID: 6, Timestamp: 0x0200000a, TypeID: 9, StreamID: 1, Body: seq(2)},
		},
		raw: cat(h("06 000000 000002 09 01000000"), seq(2), h("86 ffffff 01000005"), seq(2), h("c6 01000005"), seq(2)),
	},
	{
		name: "zero length message",
		msgs: []*Message{{ChunkStreamID: 3, TypeID: 20}},
		raw:  h("03 000000 000000 14 00000000"),
	},
	{
		name: "new message stream id needs fmt 0",
		msgs: []*Message{
			{ChunkStreamID: 3, TypeID: 20, Body: seq(1)},
			{ChunkStreamID: 3, TypeID: 20, StreamID: 1, Body: seq(1)},
		},
		raw: cat(h("03 000000 000001 14 00000000"), seq(1), h("03 000000 000001 14 01000000"), seq(1)),
	},
	{
		name: "timestamp going back needs fmt 0",
		msgs: []*Message{
			{ChunkStreamID: 4, Timestamp: 100, TypeID: 8, StreamID: 1, Body: seq(1)},
			{ChunkStreamID: 4, Timestamp: 50, TypeID: 8, StreamID: 1, Body: seq(1)},
		},
		raw: cat(h("04 000064 000001 08 01000000"), seq(1), h("04 000032 000001 08 01000000"), seq(1)),
	},
	{
		name: "interleaved chunk streams",
		msgs: []*Message{
			{ChunkStreamID: 4, TypeID: 8, StreamID: 1, Body: seq(200)},
			{ChunkStreamID: 6, TypeID: 9, StreamID: 1, Body: seq(150)},
		},
		raw: cat(
			h("04 000000 0000c8 08 01000000"), seq(200)[:128],
			h("06 000000 000096 09 01000000"), seq(150)[:128],
			h("c4"), seq(200)[128:],
			h("c6"), seq(150)[128:],
		),
		decodeOnly: true,
	},
	{
		name: "fmt 3 starting a message after fmt 0 repeats the timestamp as delta",
		msgs: []*Message{
			{ChunkStreamID: 4, Timestamp: 40, TypeID: 8, StreamID: 1, Body: seq(3)},
			{ChunkStreamID: 4, Timestamp: 80, TypeID: 8, StreamID: 1, Body: seq(3)},
		},
		raw:        cat(h("04 000028 000003 08 01000000"), seq(3), h("c4"), seq(3)),
		decodeOnly: true,
	},
	{
		name: "continuation without repeated extended timestamp",
		msgs: []*Message{{ChunkStreamID: 6, Timestamp: 0x01000000, TypeID: 9, StreamID: 1, Body: seq(200)}},
		raw:  cat(h("06 ffffff 0000c8 09 01000000 01000000"), seq(200)[:128], h("c6"), seq(200)[128:]),
		// The Writer repeats the extended timestamp, as FMS and ffmpeg do.
		decodeOnly: true,
	},
	{
		name: "fmt 1 on a 2-byte basic header",
		msgs: []*Message{
			{ChunkStreamID: 100, TypeID: 8, StreamID: 1, Body: seq(1)},
			{ChunkStreamID: 100, Timestamp: 7, TypeID: 18, StreamID: 1, Body: seq(2)},
		},
		raw: cat(h("00 24 000000 000001 08 01000000"), seq(1), h("40 24 000007 000002 12"), seq(2)),
	},
}

func (tc codecCase) size() uint32 {
	if tc.chunkSize == 0 {
		return DefaultChunkSize
	}
	return tc.chunkSize
}

func TestReader_Decode(t *testing.T) {
	for _, tc := range codecCases {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(bytes.NewReader(tc.raw), DefaultLimits)
			if err := r.SetChunkSize(tc.size()); err != nil {
				t.Fatal(err)
			}
			var got []*Message
			for {
				m, err := r.Read()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("Read after %d messages: %v", len(got), err)
				}
				got = append(got, m)
			}
			if diff := cmp.Diff(tc.msgs, got); diff != "" {
				t.Errorf("Read mismatch (-want +got):\n%s", diff)
			}
			if n := r.BytesRead(); n != uint64(len(tc.raw)) {
				t.Errorf("BytesRead() = %d, want %d", n, len(tc.raw))
			}
			if r.pending != 0 {
				t.Errorf("pending = %d after whole messages, want 0", r.pending)
			}
		})
	}
}

func TestWriter_Encode(t *testing.T) {
	for _, tc := range codecCases {
		if tc.decodeOnly {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := NewWriter(&buf)
			w.SetChunkSize(tc.size())
			for _, m := range tc.msgs {
				if err := w.WriteMessage(m); err != nil {
					t.Fatalf("WriteMessage: %v", err)
				}
			}
			if diff := cmp.Diff(tc.raw, buf.Bytes()); diff != "" {
				t.Errorf("WriteMessage bytes mismatch (-want +got):\n%s", diff)
			}

			w = NewWriter(nil)
			w.SetChunkSize(tc.size())
			var b []byte
			for _, m := range tc.msgs {
				b = w.AppendMessage(b, m)
			}
			if !bytes.Equal(b, tc.raw) {
				t.Errorf("AppendMessage = %x, want %x", b, tc.raw)
			}
		})
	}
}

func TestAppendFullMessage(t *testing.T) {
	for _, tc := range codecCases {
		if tc.decodeOnly {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			// The first message of each case is written with a fmt 0 header
			// by a fresh Writer, which is what AppendFullMessage must give.
			m := tc.msgs[0]
			w := NewWriter(nil)
			w.SetChunkSize(tc.size())
			want := w.AppendMessage(nil, m)
			got := AppendFullMessage(nil, m, tc.size())
			if !bytes.Equal(got, want) {
				t.Errorf("AppendFullMessage = %x, want %x", got, want)
			}
			if n := EncodedLen(m.ChunkStreamID, m.Timestamp, len(m.Body), tc.size()); n != len(got) {
				t.Errorf("EncodedLen = %d, want %d", n, len(got))
			}
		})
	}
}

// TestWriter_WriteRawInvalidates checks that a message after raw chunks on
// the same chunk stream is not delta-coded against the message before them.
func TestWriter_WriteRawInvalidates(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	a := &Message{ChunkStreamID: 6, Timestamp: 100, TypeID: 9, StreamID: 1, Body: seq(10)}
	raw := &Message{ChunkStreamID: 6, Timestamp: 5000, TypeID: 9, StreamID: 1, Body: seq(300)}
	b := &Message{ChunkStreamID: 6, Timestamp: 200, TypeID: 9, StreamID: 1, Body: seq(10)}
	if err := w.WriteMessage(a); err != nil {
		t.Fatal(err)
	}
	p := AppendFullMessage(nil, raw, w.ChunkSize())
	// Split into two buffers to exercise the vectored write.
	if err := w.WriteRaw([][]byte{p[:50], p[50:]}, 6); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteMessage(b); err != nil {
		t.Fatal(err)
	}

	r := NewReader(&buf, DefaultLimits)
	for _, want := range []*Message{a, raw, b} {
		got, err := r.Read()
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Read mismatch (-want +got):\n%s", diff)
		}
	}
}

func TestReader_Abort(t *testing.T) {
	// A 300-byte message on chunk stream 4 is aborted after its first chunk;
	// a 2-byte message follows on the same chunk stream.
	raw := cat(
		h("04 000000 00012c 08 01000000"), seq(128),
		h("44 00000a 000002 08"), seq(2),
	)
	r := NewReader(bytes.NewReader(raw), DefaultLimits)
	m := new(Message)
	done, err := r.readChunk(m)
	if err != nil || done {
		t.Fatalf("readChunk = %v, %v; want a partial message", done, err)
	}
	r.Abort(4)
	if r.pending != 0 {
		t.Errorf("pending = %d after Abort, want 0", r.pending)
	}
	got, err := r.Read()
	if err != nil {
		t.Fatalf("Read after Abort: %v", err)
	}
	want := &Message{ChunkStreamID: 4, Timestamp: 10, TypeID: 8, StreamID: 1, Body: seq(2)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Read after Abort mismatch (-want +got):\n%s", diff)
	}
	r.Abort(99) // unknown chunk stream: no effect
}

func TestReader_Errors(t *testing.T) {
	small := Limits{MaxMessageSize: 1000, MaxChunkStreams: 2, MaxPendingBytes: 300}
	tests := []struct {
		name    string
		limits  Limits
		raw     []byte
		wantErr error  // checked with errors.Is when set
		wantMsg string // substring of the error
	}{
		{
			name:    "fmt 3 with no previous header",
			raw:     cat(h("c7"), seq(4)),
			wantErr: ErrNoPreviousHeader,
			wantMsg: "chunk: fmt 3 on chunk stream 7 with no previous header",
		},
		{
			name:    "fmt 1 with no previous header",
			raw:     h("44 000000 000001 08 00"),
			wantErr: ErrNoPreviousHeader,
			wantMsg: "fmt 1 on chunk stream 4",
		},
		{
			name:    "fmt 2 with no previous header on 3-byte csid",
			raw:     h("81 00 01 000000"),
			wantErr: ErrNoPreviousHeader,
			wantMsg: "fmt 2 on chunk stream 320",
		},
		{
			name:    "declared length over the limit",
			raw:     h("04 000000 ffffff 08 01000000"),
			wantErr: ErrMessageTooLarge,
			wantMsg: "message of 16777215 bytes on chunk stream 4",
		},
		{
			name:    "declared length over a small limit on fmt 1",
			limits:  small,
			raw:     cat(h("04 000000 000001 08 01000000 00"), h("44 000000 0003e9 08")),
			wantErr: ErrMessageTooLarge,
			wantMsg: "message of 1001 bytes",
		},
		{
			name:    "too many chunk streams",
			limits:  small,
			raw:     cat(h("02 000000 000000 01 00000000"), h("03 000000 000000 14 00000000"), h("04 000000 000000 08 00000000")),
			wantErr: ErrTooManyChunkStreams,
			wantMsg: "chunk stream 4",
		},
		{
			name:    "partial messages over the pending limit",
			limits:  small,
			raw:     cat(h("04 000000 0000c8 08 01000000"), seq(128), h("06 000000 0000c8 09 01000000"), seq(128)),
			wantErr: ErrPendingLimit,
			wantMsg: "chunk stream 6",
		},
		{
			name:    "header in the middle of a message",
			raw:     cat(h("04 000000 0000c8 08 01000000"), seq(128), h("84 000001"), seq(72)),
			wantMsg: "fmt 2 header on chunk stream 4 in the middle of a message (128 of 200 bytes received)",
		},
		{
			name:    "truncated basic header",
			raw:     h("01 00"),
			wantErr: io.ErrUnexpectedEOF,
			wantMsg: "read basic header",
		},
		{
			name:    "truncated 2-byte basic header",
			raw:     h("00"),
			wantErr: io.ErrUnexpectedEOF,
		},
		{
			name:    "truncated message header",
			raw:     h("03 000000 0000"),
			wantErr: io.ErrUnexpectedEOF,
			wantMsg: "read fmt 0 header on chunk stream 3",
		},
		{
			name:    "truncated extended timestamp",
			raw:     h("03 ffffff 000001 14 00000000 0000"),
			wantErr: io.ErrUnexpectedEOF,
			wantMsg: "extended timestamp",
		},
		{
			name:    "truncated payload",
			raw:     cat(h("03 000000 000004 14 00000000"), seq(2)),
			wantErr: io.ErrUnexpectedEOF,
			wantMsg: "read payload on chunk stream 3",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(bytes.NewReader(tc.raw), tc.limits)
			var err error
			for err == nil {
				_, err = r.Read()
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("Read error = %v, want %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("Read error = %q, want it to contain %q", err, tc.wantMsg)
			}
			if errors.Is(err, io.EOF) {
				t.Errorf("Read error = %v: a cut inside a chunk must not look like a clean end", err)
			}
		})
	}
}

func TestReader_TooLargeAllocatesNothing(t *testing.T) {
	raw := h("04 000000 800001 08 01000000")
	br := bytes.NewReader(raw)
	r := NewReader(br, DefaultLimits)
	allocs := testing.AllocsPerRun(100, func() {
		br.Reset(raw)
		r.br.Reset(&r.cr)
		if _, err := r.Read(); !errors.Is(err, ErrMessageTooLarge) {
			t.Fatalf("Read error = %v, want ErrMessageTooLarge", err)
		}
	})
	// The error value itself is allocated; no body is.
	if allocs > 8 {
		t.Errorf("Read of an oversized header made %v allocations, want only the error's", allocs)
	}
	if r.pending != 0 {
		t.Errorf("pending = %d, want 0", r.pending)
	}
}

func TestReader_SetChunkSize(t *testing.T) {
	tests := []struct {
		n       uint32
		wantErr bool
	}{
		{0, true},
		{1, false},
		{128, false},
		{MaxChunkSize, false},
		{MaxChunkSize + 1, true},
		{0x7fffffff, true},
		{0x80000000, true},
	}
	for _, tc := range tests {
		r := NewReader(bytes.NewReader(nil), DefaultLimits)
		err := r.SetChunkSize(tc.n)
		if (err != nil) != tc.wantErr {
			t.Errorf("SetChunkSize(%d) = %v, want error %v", tc.n, err, tc.wantErr)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidChunkSize) {
				t.Errorf("SetChunkSize(%d) = %v, want ErrInvalidChunkSize", tc.n, err)
			}
			if !strings.Contains(err.Error(), "chunk size "+itoa(tc.n)) {
				t.Errorf("SetChunkSize(%d) = %q, want the value named", tc.n, err)
			}
		} else if r.ChunkSize() != tc.n {
			t.Errorf("ChunkSize() = %d after SetChunkSize(%d)", r.ChunkSize(), tc.n)
		}
	}
}

func itoa(n uint32) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}

func TestMessage_Validate(t *testing.T) {
	tests := []struct {
		name string
		m    Message
		ok   bool
	}{
		{"csid 2", Message{ChunkStreamID: 2}, true},
		{"csid 65599", Message{ChunkStreamID: 65599}, true},
		{"csid 0", Message{ChunkStreamID: 0}, false},
		{"csid 1", Message{ChunkStreamID: 1}, false},
		{"csid 65600", Message{ChunkStreamID: 65600}, false},
		{"body 16 MiB - 1", Message{ChunkStreamID: 3, Body: make([]byte, 0xffffff)}, true},
		{"body 16 MiB", Message{ChunkStreamID: 3, Body: make([]byte, 0x1000000)}, false},
	}
	for _, tc := range tests {
		err := tc.m.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok %v", tc.name, err, tc.ok)
		}
		w := NewWriter(io.Discard)
		if err := w.WriteMessage(&tc.m); (err == nil) != tc.ok {
			t.Errorf("%s: WriteMessage() = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

// TestRoundTripLarge writes a mixed sequence through the Writer at several
// chunk sizes and reads it back.
func TestRoundTripLarge(t *testing.T) {
	var msgs []*Message
	ts := uint32(0xfffff0) // crosses into extended timestamps
	for i := range 200 {
		csid := uint32(4 + 2*(i%2))
		typ := uint8(8 + i%2)
		size := 1 + (i*7919)%9000
		if i%17 == 0 {
			ts += 0x01000000 // an extended delta now and then
		}
		ts += uint32(i % 3 * 20)
		msgs = append(msgs, &Message{ChunkStreamID: csid, Timestamp: ts, TypeID: typ, StreamID: 1, Body: seq(size)})
	}
	for _, cs := range []uint32{1, 128, 4096, 60000} {
		var buf bytes.Buffer
		w := NewWriter(&buf)
		w.SetChunkSize(cs)
		for _, m := range msgs {
			if err := w.WriteMessage(m); err != nil {
				t.Fatal(err)
			}
		}
		r := NewReader(&buf, DefaultLimits)
		if err := r.SetChunkSize(cs); err != nil {
			t.Fatal(err)
		}
		for i, want := range msgs {
			got, err := r.Read()
			if err != nil {
				t.Fatalf("chunk size %d: Read %d: %v", cs, i, err)
			}
			// cmp is slow on large bodies: compare them apart.
			if !bytes.Equal(want.Body, got.Body) {
				t.Fatalf("chunk size %d: message %d body differs", cs, i)
			}
			if got.ChunkStreamID != want.ChunkStreamID || got.Timestamp != want.Timestamp ||
				got.TypeID != want.TypeID || got.StreamID != want.StreamID {
				t.Fatalf("chunk size %d: message %d header = %d/%d/%d/%d, want %d/%d/%d/%d", cs, i,
					got.ChunkStreamID, got.Timestamp, got.TypeID, got.StreamID,
					want.ChunkStreamID, want.Timestamp, want.TypeID, want.StreamID)
			}
		}
	}
}

func FuzzReader(f *testing.F) {
	for _, tc := range codecCases {
		f.Add(tc.raw, tc.size())
	}
	f.Fuzz(func(t *testing.T, raw []byte, chunkSize uint32) {
		limits := Limits{MaxMessageSize: 1 << 16, MaxChunkStreams: 8, MaxPendingBytes: 1 << 17}
		r := NewReader(bytes.NewReader(raw), limits)
		if r.SetChunkSize(chunkSize) != nil {
			chunkSize = DefaultChunkSize
		}
		var msgs []*Message
		for {
			m, err := r.Read()
			if err != nil {
				break
			}
			if len(m.Body) > int(limits.MaxMessageSize) {
				t.Fatalf("message of %d bytes passed a limit of %d", len(m.Body), limits.MaxMessageSize)
			}
			msgs = append(msgs, m)
		}
		if r.pending > limits.MaxPendingBytes {
			t.Fatalf("pending = %d over the limit %d", r.pending, limits.MaxPendingBytes)
		}
		// Whatever was read must survive a write and a read back.
		var buf bytes.Buffer
		w := NewWriter(&buf)
		w.SetChunkSize(chunkSize)
		for _, m := range msgs {
			if m.ChunkStreamID < MinChunkStreamID {
				t.Fatalf("read chunk stream id %d", m.ChunkStreamID)
			}
			if err := w.WriteMessage(m); err != nil {
				t.Fatalf("WriteMessage of a read message: %v", err)
			}
		}
		r2 := NewReader(&buf, limits)
		if err := r2.SetChunkSize(chunkSize); err != nil {
			t.Fatal(err)
		}
		for i, want := range msgs {
			got, err := r2.Read()
			if err != nil {
				t.Fatalf("read back message %d: %v", i, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("read back message %d mismatch (-want +got):\n%s", i, diff)
			}
		}
	})
}

func TestWriter_WriteRawAllocatesNothing(t *testing.T) {
	w := NewWriter(io.Discard)
	p := [][]byte{seq(10), seq(20)}
	allocs := testing.AllocsPerRun(100, func() {
		if err := w.WriteRaw(p, 6); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("WriteRaw made %v allocations per call, want 0", allocs)
	}
	if len(p[0]) != 10 || len(p[1]) != 20 {
		t.Errorf("WriteRaw consumed the caller's slices: lengths %d, %d", len(p[0]), len(p[1]))
	}
}
