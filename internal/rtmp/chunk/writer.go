package chunk

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
)

// outStream is the send state of one chunk stream: the header of the last
// message, which the next message's header is compressed against.
type outStream struct {
	valid      bool
	deltaValid bool // the last header carried a delta (fmt 1, 2 or 3)
	typeID     uint8
	timestamp  uint32
	delta      uint32
	length     uint32
	streamID   uint32
}

// maxWriteBuffer is the largest encode buffer a Writer keeps between
// messages; a larger one (a big key frame) is dropped after the write.
const maxWriteBuffer = 256 << 10

// Writer splits messages into chunks. It does not buffer: every WriteMessage
// and WriteRaw is one write on the underlying writer. It is not safe for
// concurrent use.
type Writer struct {
	w         io.Writer
	chunkSize uint32
	small     [smallStreams]outStream
	large     map[uint32]*outStream
	buf       []byte
	iovBuf    [][]byte    // reusable backing array for iov
	iov       net.Buffers // a field: WriteTo on a local would move it to the heap
}

// NewWriter returns a Writer to w with the default chunk size of 128.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w, chunkSize: DefaultChunkSize}
}

// SetChunkSize sets the outgoing chunk size. The caller also sends the Set
// Chunk Size message, before any message that uses the new size. Values
// outside 1..MaxChunkSize are clamped into it.
func (w *Writer) SetChunkSize(n uint32) {
	w.chunkSize = min(max(n, 1), MaxChunkSize)
}

// ChunkSize returns the outgoing chunk size.
func (w *Writer) ChunkSize() uint32 { return w.chunkSize }

// Invalidate forgets the last header sent on chunk stream csid, so that the
// next message on it gets a fmt 0 header. WriteRaw calls it for the chunk
// streams it is given.
func (w *Writer) Invalidate(csid uint32) {
	if csid < smallStreams {
		w.small[csid] = outStream{}
		return
	}
	delete(w.large, csid)
}

// state returns the send state of chunk stream csid, creating it.
func (w *Writer) state(csid uint32) *outStream {
	if csid < smallStreams {
		return &w.small[csid]
	}
	st := w.large[csid]
	if st == nil {
		if w.large == nil {
			w.large = make(map[uint32]*outStream)
		}
		st = &outStream{}
		w.large[csid] = st
	}
	return st
}

// WriteMessage sends m, with a header compressed against the previous
// message on the same chunk stream.
func (w *Writer) WriteMessage(m *Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	w.buf = w.AppendMessage(w.buf[:0], m)
	_, err := w.w.Write(w.buf)
	if cap(w.buf) > maxWriteBuffer {
		w.buf = nil
	}
	if err != nil {
		return fmt.Errorf("chunk: write message: %w", err)
	}
	return nil
}

// AppendMessage appends the chunks of m to dst as WriteMessage would send
// them, and records m as the last message on its chunk stream. Use it to
// batch several messages into one write. m must pass Validate; AppendMessage
// panics otherwise.
func (w *Writer) AppendMessage(dst []byte, m *Message) []byte {
	if err := m.Validate(); err != nil {
		panic(err)
	}
	st := w.state(m.ChunkStreamID)
	length := uint32(len(m.Body))
	f, field := uint8(0), m.Timestamp
	if st.valid && st.streamID == m.StreamID && m.Timestamp >= st.timestamp {
		delta := m.Timestamp - st.timestamp
		switch {
		case st.typeID != m.TypeID || st.length != length:
			f = 1
		case st.deltaValid && st.delta == delta:
			// Only after a delta header: readers disagree on what delta a
			// fmt 3 chunk after a fmt 0 chunk implies.
			f = 3
		default:
			f = 2
		}
		field = delta
	}
	*st = outStream{
		valid:      true,
		deltaValid: f != 0,
		typeID:     m.TypeID,
		timestamp:  m.Timestamp,
		delta:      field,
		length:     length,
		streamID:   m.StreamID,
	}
	return appendChunks(dst, f, field, m, w.chunkSize)
}

// Flush is a no-op: a Writer does not buffer. It exists so that callers can
// treat the Writer like a buffered one.
func (w *Writer) Flush() error { return nil }

// WriteRaw writes pre-encoded chunks (from AppendFullMessage) as one vectored
// write and invalidates the header state of the given chunk streams, since
// the raw bytes changed the peer's view of them.
func (w *Writer) WriteRaw(p [][]byte, csids ...uint32) error {
	for _, csid := range csids {
		w.Invalidate(csid)
	}
	w.iovBuf = append(w.iovBuf[:0], p...)
	w.iov = w.iovBuf
	_, err := w.iov.WriteTo(w.w) // consumes w.iov, not p
	clear(w.iovBuf)
	w.iov = nil
	if err != nil {
		return fmt.Errorf("chunk: write raw chunks: %w", err)
	}
	return nil
}

// AppendFullMessage appends the chunks of m with a fmt 0 first header, so the
// bytes do not depend on any connection's header state: encode a message
// once and send it to many peers that share chunkSize (and m's stream id)
// with Writer.WriteRaw. m must pass Validate and chunkSize must be at least
// 1; AppendFullMessage panics otherwise.
func AppendFullMessage(dst []byte, m *Message, chunkSize uint32) []byte {
	if err := m.Validate(); err != nil {
		panic(err)
	}
	if chunkSize == 0 {
		panic("chunk: AppendFullMessage with chunk size 0")
	}
	return appendChunks(dst, 0, m.Timestamp, m, chunkSize)
}

// appendChunks appends m as chunks: a first chunk with a fmt f header whose
// timestamp field is field, then fmt 3 continuation chunks.
func appendChunks(dst []byte, f uint8, field uint32, m *Message, chunkSize uint32) []byte {
	ext := field >= extendedTimestamp
	ts := min(field, extendedTimestamp)
	length := len(m.Body)

	dst = appendBasicHeader(dst, f, m.ChunkStreamID)
	switch f {
	case 0:
		dst = append(dst, byte(ts>>16), byte(ts>>8), byte(ts),
			byte(length>>16), byte(length>>8), byte(length), m.TypeID)
		dst = binary.LittleEndian.AppendUint32(dst, m.StreamID)
	case 1:
		dst = append(dst, byte(ts>>16), byte(ts>>8), byte(ts),
			byte(length>>16), byte(length>>8), byte(length), m.TypeID)
	case 2:
		dst = append(dst, byte(ts>>16), byte(ts>>8), byte(ts))
	}
	if ext {
		dst = binary.BigEndian.AppendUint32(dst, field)
	}
	body := m.Body
	n := min(len(body), int(chunkSize))
	dst = append(dst, body[:n]...)
	body = body[n:]
	for len(body) > 0 {
		dst = appendBasicHeader(dst, 3, m.ChunkStreamID)
		if ext {
			dst = binary.BigEndian.AppendUint32(dst, field)
		}
		n = min(len(body), int(chunkSize))
		dst = append(dst, body[:n]...)
		body = body[n:]
	}
	return dst
}

// appendBasicHeader appends the smallest basic header for csid.
func appendBasicHeader(dst []byte, f uint8, csid uint32) []byte {
	switch {
	case csid < 64:
		return append(dst, f<<6|byte(csid))
	case csid < 64+256:
		return append(dst, f<<6, byte(csid-64))
	default:
		return append(dst, f<<6|1, byte(csid-64), byte((csid-64)>>8))
	}
}

// EncodedLen returns how many bytes AppendFullMessage appends for a message
// of bodyLen bytes on chunk stream csid with timestamp ts, so that callers can
// size buffers.
func EncodedLen(csid uint32, ts uint32, bodyLen int, chunkSize uint32) int {
	basic := 1
	switch {
	case csid >= 64+256:
		basic = 3
	case csid >= 64:
		basic = 2
	}
	ext := 0
	if ts >= extendedTimestamp {
		ext = 4
	}
	chunks := max(1, (bodyLen+int(chunkSize)-1)/int(chunkSize))
	return basic + 11 + ext + (chunks-1)*(basic+ext) + bodyLen
}
