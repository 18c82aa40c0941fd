package message

import (
	"encoding/binary"

	"github.com/shoal-live/shoal/internal/rtmp/chunk"
)

// Acknowledgement (type 3) reports how many bytes the sender has received so
// far (modulo 2^32).
type Acknowledgement struct {
	SequenceNumber uint32
}

// Type returns TypeAcknowledgement.
func (*Acknowledgement) Type() uint8 { return TypeAcknowledgement }

func (a *Acknowledgement) unmarshal(m *chunk.Message) error {
	if err := need(m, "sequence number", 4); err != nil {
		return err
	}
	a.SequenceNumber = binary.BigEndian.Uint32(m.Body)
	return nil
}

func (a *Acknowledgement) marshal() (*chunk.Message, error) {
	return controlMessage(TypeAcknowledgement, binary.BigEndian.AppendUint32(nil, a.SequenceNumber)), nil
}
