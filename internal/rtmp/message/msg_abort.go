package message

import (
	"encoding/binary"

	"github.com/shoal-live/shoal/internal/rtmp/chunk"
)

// Abort (type 2) tells the receiver to drop the partial message on a chunk
// stream.
type Abort struct {
	ChunkStreamID uint32
}

// Type returns TypeAbort.
func (*Abort) Type() uint8 { return TypeAbort }

func (a *Abort) unmarshal(m *chunk.Message) error {
	if err := need(m, "chunk stream id", 4); err != nil {
		return err
	}
	a.ChunkStreamID = binary.BigEndian.Uint32(m.Body)
	return nil
}

func (a *Abort) marshal() (*chunk.Message, error) {
	return controlMessage(TypeAbort, binary.BigEndian.AppendUint32(nil, a.ChunkStreamID)), nil
}
