package message

import (
	"encoding/binary"

	"github.com/shoal-live/shoal/internal/rtmp/chunk"
)

// WindowAckSize (type 5) asks the receiver to send an Acknowledgement each
// time it has received this many bytes.
type WindowAckSize struct {
	Size uint32
}

// Type returns TypeWindowAckSize.
func (*WindowAckSize) Type() uint8 { return TypeWindowAckSize }

func (w *WindowAckSize) unmarshal(m *chunk.Message) error {
	if err := need(m, "size", 4); err != nil {
		return err
	}
	w.Size = binary.BigEndian.Uint32(m.Body)
	return nil
}

func (w *WindowAckSize) marshal() (*chunk.Message, error) {
	return controlMessage(TypeWindowAckSize, binary.BigEndian.AppendUint32(nil, w.Size)), nil
}
