package chunk

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// readBufferSize is the size of the Reader's internal buffer.
const readBufferSize = 16 << 10

// smallStreams is how many chunk stream ids (those with a 1-byte basic
// header) a Reader and a Writer index by array instead of by map.
const smallStreams = 64

// inStream is the receive state of one chunk stream: the last header (for
// fmt 1, 2 and 3 chunks to refer to) and the message being reassembled.
type inStream struct {
	hasHeader  bool
	inProgress bool   // body holds a partial message
	extended   bool   // the last timestamp field was 0xFFFFFF
	typeID     uint8  // of the current or last message
	timestamp  uint32 // absolute timestamp of the current or last message
	delta      uint32 // timestamp delta a fmt 3 chunk that starts a message adds
	extValue   uint32 // the last extended timestamp read on this chunk stream
	length     uint32 // of the current or last message
	streamID   uint32 // of the current or last message
	body       []byte // partial message body, len = bytes received so far
}

// Reader reads chunks and returns whole messages. It is not safe for
// concurrent use.
type Reader struct {
	br        *bufio.Reader
	cr        countingReader
	limits    Limits
	chunkSize uint32
	small     [smallStreams]*inStream
	large     map[uint32]*inStream
	nstreams  int // chunk streams that have had a header
	pending   int // capacity held by partial message bodies
	hdr       [11]byte
}

// countingReader counts the bytes read from the connection, for
// acknowledgements.
type countingReader struct {
	r io.Reader
	n uint64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += uint64(n)
	return n, err
}

// NewReader returns a Reader of r with the default chunk size of 128. Zero
// fields of limits take their values from DefaultLimits.
func NewReader(r io.Reader, limits Limits) *Reader {
	cr := &Reader{limits: limits.withDefaults(), chunkSize: DefaultChunkSize}
	cr.cr.r = r
	cr.br = bufio.NewReaderSize(&cr.cr, readBufferSize)
	return cr
}

// SetChunkSize sets the size of the chunks the peer sends, as announced by a
// Set Chunk Size message. It rejects 0 and anything above MaxChunkSize.
func (r *Reader) SetChunkSize(n uint32) error {
	if err := validChunkSize(n); err != nil {
		return err
	}
	r.chunkSize = n
	return nil
}

// ChunkSize returns the current incoming chunk size.
func (r *Reader) ChunkSize() uint32 { return r.chunkSize }

// Abort drops the partial message on chunk stream csid, as an Abort Message
// asks. The header state stays, so later chunks may still refer to it.
func (r *Reader) Abort(csid uint32) {
	st := r.lookup(csid)
	if st == nil || !st.inProgress {
		return
	}
	r.pending -= cap(st.body)
	st.body = nil
	st.inProgress = false
}

// BytesRead returns how many bytes the Reader has taken from the connection.
func (r *Reader) BytesRead() uint64 { return r.cr.n }

// Read returns the next complete message. The message and its body belong to
// the caller.
func (r *Reader) Read() (*Message, error) {
	m := new(Message)
	if err := r.ReadInto(m); err != nil {
		return nil, err
	}
	return m, nil
}

// ReadInto reads the next complete message into m, overwriting all its fields.
// The body is newly allocated; only the Message struct is reused.
func (r *Reader) ReadInto(m *Message) error {
	for {
		done, err := r.readChunk(m)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

// lookup returns the state of chunk stream csid, or nil if it has none.
func (r *Reader) lookup(csid uint32) *inStream {
	if csid < smallStreams {
		return r.small[csid]
	}
	return r.large[csid]
}

// create makes the state of a chunk stream that has none yet.
func (r *Reader) create(csid uint32) (*inStream, error) {
	if r.nstreams >= r.limits.MaxChunkStreams {
		return nil, fmt.Errorf("chunk: chunk stream %d: %w (limit %d)", csid, ErrTooManyChunkStreams, r.limits.MaxChunkStreams)
	}
	st := &inStream{}
	if csid < smallStreams {
		r.small[csid] = st
	} else {
		if r.large == nil {
			r.large = make(map[uint32]*inStream)
		}
		r.large[csid] = st
	}
	r.nstreams++
	return st, nil
}

// readFull reads len(p) bytes, turning a short read into io.ErrUnexpectedEOF.
func (r *Reader) readFull(p []byte) error {
	_, err := io.ReadFull(r.br, p)
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readBasicHeader reads the format and chunk stream id.
func (r *Reader) readBasicHeader() (uint8, uint32, error) {
	b0, err := r.br.ReadByte()
	if err != nil {
		return 0, 0, err // io.EOF here is a clean end between chunks
	}
	f := b0 >> 6
	switch csid := uint32(b0 & 0x3f); csid {
	case 0:
		b1, err := r.br.ReadByte()
		if err != nil {
			return 0, 0, fmt.Errorf("chunk: read basic header: %w", unexpected(err))
		}
		return f, 64 + uint32(b1), nil
	case 1:
		if err := r.readFull(r.hdr[:2]); err != nil {
			return 0, 0, fmt.Errorf("chunk: read basic header: %w", err)
		}
		return f, 64 + uint32(r.hdr[0]) + uint32(r.hdr[1])<<8, nil
	default:
		return f, csid, nil
	}
}

// unexpected turns io.EOF in the middle of a chunk into io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readChunk reads one chunk. It reports true and fills m when the chunk
// completed a message.
func (r *Reader) readChunk(m *Message) (bool, error) {
	f, csid, err := r.readBasicHeader()
	if err != nil {
		return false, err
	}
	st := r.lookup(csid)
	if st == nil {
		if f != 0 {
			return false, fmt.Errorf("chunk: fmt %d on chunk stream %d with %w", f, csid, ErrNoPreviousHeader)
		}
		if st, err = r.create(csid); err != nil {
			return false, err
		}
	}
	if f != 3 && st.inProgress {
		return false, fmt.Errorf("chunk: fmt %d header on chunk stream %d in the middle of a message (%d of %d bytes received)",
			f, csid, len(st.body), st.length)
	}
	if err := r.readMessageHeader(f, csid, st); err != nil {
		return false, err
	}

	if !st.inProgress {
		st.inProgress = true
		st.body = nil
	}
	n := min(st.length-uint32(len(st.body)), r.chunkSize)
	if err := r.readPayload(csid, st, int(n)); err != nil {
		return false, err
	}
	if uint32(len(st.body)) < st.length {
		return false, nil
	}
	*m = Message{
		ChunkStreamID: csid,
		Timestamp:     st.timestamp,
		TypeID:        st.typeID,
		StreamID:      st.streamID,
		Body:          st.body,
	}
	r.pending -= cap(st.body)
	st.body = nil
	st.inProgress = false
	return true, nil
}

// readMessageHeader reads the message header of format f and the extended
// timestamp, and updates st.
func (r *Reader) readMessageHeader(f uint8, csid uint32, st *inStream) error {
	var ts uint32
	switch f {
	case 0, 1, 2:
		size := [3]int{11, 7, 3}[f]
		h := r.hdr[:size]
		if err := r.readFull(h); err != nil {
			return fmt.Errorf("chunk: read fmt %d header on chunk stream %d: %w", f, csid, err)
		}
		ts = uint32(h[0])<<16 | uint32(h[1])<<8 | uint32(h[2])
		if f <= 1 {
			length := uint32(h[3])<<16 | uint32(h[4])<<8 | uint32(h[5])
			if length > r.limits.MaxMessageSize {
				return fmt.Errorf("chunk: message of %d bytes on chunk stream %d: %w (limit %d)",
					length, csid, ErrMessageTooLarge, r.limits.MaxMessageSize)
			}
			st.length = length
			st.typeID = h[6]
		}
		if f == 0 {
			st.streamID = binary.LittleEndian.Uint32(h[7:11])
		}
		st.extended = ts == extendedTimestamp
		if st.extended {
			if err := r.readFull(r.hdr[:4]); err != nil {
				return fmt.Errorf("chunk: read extended timestamp on chunk stream %d: %w", csid, err)
			}
			ts = binary.BigEndian.Uint32(r.hdr[:4])
			st.extValue = ts
		}
		// A fmt 3 chunk that starts a message adds the last timestamp field
		// as its delta; after fmt 0 that is the absolute timestamp (RTMP
		// spec 5.3.1.2.4, as ffmpeg reads and writes it).
		st.delta = ts
		if f == 0 {
			st.timestamp = ts
		} else {
			st.timestamp += ts
		}
		st.hasHeader = true
		return nil
	}

	// fmt 3.
	if st.inProgress {
		// Continuation: FMS and ffmpeg repeat the extended timestamp here;
		// some encoders do not, so take it only if it is the same value.
		if st.extended {
			if b, err := r.br.Peek(4); err == nil && binary.BigEndian.Uint32(b) == st.extValue {
				_, _ = r.br.Discard(4)
			}
		}
		return nil
	}
	if st.extended {
		if err := r.readFull(r.hdr[:4]); err != nil {
			return fmt.Errorf("chunk: read extended timestamp on chunk stream %d: %w", csid, err)
		}
		st.extValue = binary.BigEndian.Uint32(r.hdr[:4])
		st.delta = st.extValue
	}
	st.timestamp += st.delta
	return nil
}

// readPayload appends n bytes to the partial body of st, growing it within
// the pending-bytes limit. Bodies grow as data arrives, so a header that
// declares a large message costs nothing until its bytes are sent.
func (r *Reader) readPayload(csid uint32, st *inStream, n int) error {
	have := len(st.body)
	need := have + n
	if need > cap(st.body) {
		newCap := min(int(st.length), max(need, 2*cap(st.body), 64<<10))
		if r.pending+newCap-cap(st.body) > r.limits.MaxPendingBytes {
			return fmt.Errorf("chunk: message of %d bytes on chunk stream %d: %w (limit %d)",
				st.length, csid, ErrPendingLimit, r.limits.MaxPendingBytes)
		}
		r.pending += newCap - cap(st.body)
		nb := make([]byte, have, newCap)
		copy(nb, st.body)
		st.body = nb
	}
	if err := r.readFull(st.body[have:need]); err != nil {
		return fmt.Errorf("chunk: read payload on chunk stream %d: %w", csid, err)
	}
	st.body = st.body[:need]
	return nil
}
