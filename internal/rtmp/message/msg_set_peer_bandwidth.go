package message

import (
	"encoding/binary"

	"github.com/shoal-live/shoal/internal/rtmp/chunk"
)

// Limit types of SetPeerBandwidth.
const (
	LimitHard    uint8 = 0
	LimitSoft    uint8 = 1
	LimitDynamic uint8 = 2
)

// SetPeerBandwidth (type 6) limits the receiver's output bandwidth; the
// receiver answers with a WindowAckSize if the size differs from the one it
// sent last.
type SetPeerBandwidth struct {
	Size  uint32
	Limit uint8
}

// Type returns TypeSetPeerBandwidth.
func (*SetPeerBandwidth) Type() uint8 { return TypeSetPeerBandwidth }

func (s *SetPeerBandwidth) unmarshal(m *chunk.Message) error {
	if err := need(m, "size and limit type", 5); err != nil {
		return err
	}
	s.Size = binary.BigEndian.Uint32(m.Body)
	s.Limit = m.Body[4]
	return nil
}

func (s *SetPeerBandwidth) marshal() (*chunk.Message, error) {
	return controlMessage(TypeSetPeerBandwidth, append(binary.BigEndian.AppendUint32(nil, s.Size), s.Limit)), nil
}
