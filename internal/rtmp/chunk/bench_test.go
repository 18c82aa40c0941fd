package chunk

import (
	"io"
	"testing"
)

// loopReader returns b over and over.
type loopReader struct {
	b   []byte
	off int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.b[l.off:])
	l.off = (l.off + n) % len(l.b)
	return n, nil
}

// mediaStream encodes n messages like a publisher's: audio on csid 4 and
// video on csid 6, chunk size 4096.
func mediaStream(n int) ([]byte, int64) {
	w := NewWriter(nil)
	w.SetChunkSize(4096)
	var b []byte
	var payload int64
	audio := make([]byte, 300)
	video := make([]byte, 6000)
	for i := range n {
		ts := uint32(i * 20)
		b = w.AppendMessage(b, &Message{ChunkStreamID: 4, Timestamp: ts, TypeID: 8, StreamID: 1, Body: audio})
		b = w.AppendMessage(b, &Message{ChunkStreamID: 6, Timestamp: ts, TypeID: 9, StreamID: 1, Body: video})
		payload += int64(len(audio) + len(video))
	}
	return b, payload
}

func BenchmarkReader(b *testing.B) {
	const n = 100
	raw, _ := mediaStream(n)
	r := NewReader(&loopReader{b: raw}, DefaultLimits)
	if err := r.SetChunkSize(4096); err != nil {
		b.Fatal(err)
	}
	var m Message
	b.SetBytes(int64(len(raw)) / (2 * n))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := r.ReadInto(&m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriter(b *testing.B) {
	w := NewWriter(io.Discard)
	w.SetChunkSize(4096)
	m := &Message{ChunkStreamID: 6, TypeID: 9, StreamID: 1, Body: make([]byte, 6000)}
	b.SetBytes(int64(len(m.Body)))
	b.ReportAllocs()
	for i := range b.N {
		m.Timestamp = uint32(i * 40)
		if err := w.WriteMessage(m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendFullMessage(b *testing.B) {
	m := &Message{ChunkStreamID: 6, TypeID: 9, StreamID: 1, Body: make([]byte, 6000)}
	buf := make([]byte, 0, EncodedLen(6, 0, len(m.Body), 4096))
	b.SetBytes(int64(len(m.Body)))
	b.ReportAllocs()
	for range b.N {
		buf = AppendFullMessage(buf[:0], m, 4096)
	}
}
