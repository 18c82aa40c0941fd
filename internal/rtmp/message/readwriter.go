package message

import (
	"fmt"
	"io"
	"sync"

	"github.com/shoal-live/shoal/internal/rtmp/chunk"
)

// ReadWriter reads and writes typed messages on one connection and does the
// protocol control work of the connection itself:
//
//   - SetChunkSize from the peer is applied to the chunk reader; SetChunkSize
//     written through Write is applied to the chunk writer after it is sent.
//   - Abort from the peer drops the partial message on that chunk stream.
//   - WindowAckSize from the peer sets the acknowledgement window; Read sends
//     an Acknowledgement each time that many bytes have been read.
//
// Handled messages are still returned by Read, so the caller can log them.
//
// Read may run in one goroutine while Write, WriteChunk and WriteRaw run in
// others: writes, including the acknowledgements Read sends, are serialized
// by a mutex. Read itself must not be called concurrently.
type ReadWriter struct {
	r  *chunk.Reader
	cm chunk.Message // reused for reads: decoded messages keep only its body

	ackWindow uint32 // peer's window acknowledgement size; 0 = none yet
	lastAck   uint64 // BytesRead when the last acknowledgement was sent

	mu  sync.Mutex // guards w and wcm
	w   *chunk.Writer
	wcm chunk.Message // reused for writing media without an allocation
}

// NewReadWriter returns a ReadWriter on rw with the given reader limits.
func NewReadWriter(rw io.ReadWriter, limits chunk.Limits) *ReadWriter {
	return &ReadWriter{r: chunk.NewReader(rw, limits), w: chunk.NewWriter(rw)}
}

// Reader returns the chunk reader.
func (rw *ReadWriter) Reader() *chunk.Reader { return rw.r }

// Writer returns the chunk writer. Using it directly bypasses the mutex that
// orders writes with the acknowledgements Read sends; use it only while no
// Read runs, or use WriteChunk and WriteRaw.
func (rw *ReadWriter) Writer() *chunk.Writer { return rw.w }

// Read returns the next message.
func (rw *ReadWriter) Read() (Message, error) {
	if err := rw.r.ReadInto(&rw.cm); err != nil {
		return nil, err
	}
	if err := rw.acknowledge(); err != nil {
		return nil, err
	}
	msg, err := Decode(&rw.cm)
	if err != nil {
		return nil, err
	}
	switch m := msg.(type) {
	case *Unknown:
		raw := rw.cm // the caller keeps Raw; rw.cm is reused
		m.Raw = &raw
	case *SetChunkSize:
		if err := rw.r.SetChunkSize(m.Size); err != nil {
			return nil, fmt.Errorf("message: peer set chunk size: %w", err)
		}
	case *Abort:
		rw.r.Abort(m.ChunkStreamID)
	case *WindowAckSize:
		rw.ackWindow = m.Size
	}
	return msg, nil
}

// acknowledge sends an Acknowledgement when a window's worth of bytes has
// been read since the last one.
func (rw *ReadWriter) acknowledge() error {
	n := rw.r.BytesRead()
	if rw.ackWindow == 0 || n-rw.lastAck < uint64(rw.ackWindow) {
		return nil
	}
	rw.lastAck = n
	return rw.Write(&Acknowledgement{SequenceNumber: uint32(n)})
}

// Write sends msg. A SetChunkSize changes the outgoing chunk size once it
// has been sent.
func (rw *ReadWriter) Write(msg Message) error {
	switch m := msg.(type) {
	case *Audio:
		return rw.writeMedia(orDefault(m.ChunkStreamID, ChunkStreamAudio), m.Timestamp, TypeAudio, m.StreamID, m.Payload)
	case *Video:
		return rw.writeMedia(orDefault(m.ChunkStreamID, ChunkStreamVideo), m.Timestamp, TypeVideo, m.StreamID, m.Payload)
	}
	cm, err := Encode(msg)
	if err != nil {
		return err
	}
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if err := rw.w.WriteMessage(cm); err != nil {
		return err
	}
	if s, ok := msg.(*SetChunkSize); ok {
		rw.w.SetChunkSize(s.Size)
	}
	return nil
}

// writeMedia writes an audio or video message through the reused chunk
// message.
func (rw *ReadWriter) writeMedia(csid, ts uint32, t uint8, streamID uint32, payload []byte) error {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	rw.wcm = chunk.Message{ChunkStreamID: csid, Timestamp: ts, TypeID: t, StreamID: streamID, Body: payload}
	err := rw.w.WriteMessage(&rw.wcm)
	rw.wcm.Body = nil // do not pin the payload
	return err
}

// WriteChunk sends an already encoded message.
func (rw *ReadWriter) WriteChunk(m *chunk.Message) error {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	return rw.w.WriteMessage(m)
}

// WriteRaw sends pre-encoded chunks with chunk.Writer.WriteRaw.
func (rw *ReadWriter) WriteRaw(p [][]byte, csids ...uint32) error {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	return rw.w.WriteRaw(p, csids...)
}
