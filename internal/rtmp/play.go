package rtmp

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/shoal-live/shoal/internal/flv"
	"github.com/shoal-live/shoal/internal/rtmp/chunk"
	"github.com/shoal-live/shoal/internal/rtmp/message"
)

// playBatch is the initial capacity of a play loop's packet and iovec
// slices; they grow to the largest batch seen and are reused.
const playBatch = 64

// maxBody is the largest message body the 24-bit length field holds.
const maxBody = 0xFFFFFF

// startPlay runs the play loop of st on a goroutine the connection owns.
// The loop closes src when it ends.
func (c *ServerConn) startPlay(ctx context.Context, st *ServerStream, src Source) {
	pctx, cancel := context.WithCancel(ctx)
	p := &player{cancel: cancel, done: make(chan struct{})}
	w := playWriter{c: c, streamID: st.id, chunkSize: c.chunkSize, merge: st.writeMerge}
	if !c.goOwned(func() {
		defer close(p.done)
		defer src.Close()
		if w.run(pctx, src) {
			_ = c.writeMessages(
				c.statusMessage(st, LevelStatus, CodePlayUnpublish, st.Path()+" is now unpublished."),
				streamControl(message.UserControlStreamEOF, st),
			)
		}
	}) {
		cancel()
		src.Close()
		return
	}
	st.play = p
}

// playWriter writes the packets of one played stream to a connection. Its
// slices are reused for every batch, so steady-state delivery allocates
// nothing per packet beyond the first encoding of each packet, which all
// connections with the same chunk size and stream id share.
//
// With a merge window (Server.WriteMerge), the loop does not read again
// until the window after its last write has passed: the packets that came
// in the meantime go out in one vectored write. A packet that finds the
// window over (the stream was idle) goes out as soon as it is read.
type playWriter struct {
	c         *ServerConn
	streamID  uint32
	chunkSize uint32
	merge     time.Duration
	timer     *time.Timer // waits out the merge window; made on first use
	pkts      []*flv.Packet
	bufs      [][]byte

	// Counted for tests and benchmarks.
	writes, packets uint64
}

// run delivers packets from src until ctx is done, a write fails, or the
// stream ends; it reports true for the end of the stream.
func (w *playWriter) run(ctx context.Context, src Source) (ended bool) {
	w.pkts = make([]*flv.Packet, 0, playBatch)
	w.bufs = make([][]byte, 0, playBatch)
	defer w.stopTimer()
	var next time.Time // end of the merge window after the last write
	for {
		if w.merge > 0 && !next.IsZero() && !w.waitUntil(ctx, next) {
			return false
		}
		var err error
		w.pkts, err = src.Read(ctx, w.pkts[:0])
		if len(w.pkts) > 0 {
			now := time.Now()
			if werr := w.write(w.pkts, now); werr != nil {
				return false
			}
			next = now.Add(w.merge)
		}
		if err != nil {
			return errors.Is(err, io.EOF) && ctx.Err() == nil
		}
	}
}

// waitUntil sleeps until t; it reports false if ctx ended first.
func (w *playWriter) waitUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	if w.timer == nil {
		w.timer = time.NewTimer(d)
	} else {
		w.timer.Reset(d)
	}
	select {
	case <-w.timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (w *playWriter) stopTimer() {
	if w.timer != nil {
		w.timer.Stop()
	}
}

// write encodes pkts (once per packet and key, shared between
// connections) and sends them with one vectored write; now is the time
// the batch was read.
func (w *playWriter) write(pkts []*flv.Packet, now time.Time) error {
	bufs := w.bufs[:0]
	for _, p := range pkts {
		if len(p.Payload) > maxBody {
			continue
		}
		bufs = append(bufs, encodePacket(p, w.chunkSize, w.streamID))
	}
	err := w.c.writeRaw(bufs, now)
	w.writes++
	w.packets += uint64(len(bufs))
	clear(bufs)
	clear(pkts)
	w.bufs = bufs
	return err
}

// encodePacket returns the wire form of p as a full message (fmt 0 first
// chunk) on the packet type's chunk stream.
func encodePacket(p *flv.Packet, chunkSize, streamID uint32) []byte {
	key := flv.EncodingKey{ChunkSize: chunkSize, ChunkStreamID: packetCSID(p.Type), StreamID: streamID}
	return p.Encode(key, func(dst []byte) []byte {
		m := chunk.Message{
			ChunkStreamID: key.ChunkStreamID,
			Timestamp:     p.Timestamp,
			TypeID:        uint8(p.Type),
			StreamID:      key.StreamID,
			Body:          p.Payload,
		}
		return chunk.AppendFullMessage(dst, &m, key.ChunkSize)
	})
}

// packetCSID returns the chunk stream a packet type is played on.
func packetCSID(t flv.PacketType) uint32 {
	switch t {
	case flv.PacketAudio:
		return csidAudio
	case flv.PacketVideo:
		return csidVideo
	default:
		return csidMeta
	}
}
