package message

import (
	"encoding/binary"

	"github.com/shoal-live/shoal/internal/rtmp/chunk"
)

// SetChunkSize (type 1) announces the size of the chunks the sender uses
// from now on.
type SetChunkSize struct {
	Size uint32
}

// Type returns TypeSetChunkSize.
func (*SetChunkSize) Type() uint8 { return TypeSetChunkSize }

func (s *SetChunkSize) unmarshal(m *chunk.Message) error {
	if err := need(m, "size", 4); err != nil {
		return err
	}
	s.Size = binary.BigEndian.Uint32(m.Body)
	return nil
}

func (s *SetChunkSize) marshal() (*chunk.Message, error) {
	return controlMessage(TypeSetChunkSize, binary.BigEndian.AppendUint32(nil, s.Size)), nil
}
