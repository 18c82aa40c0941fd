package message

import (
	"encoding/binary"
	"fmt"

	"github.com/shoal-live/shoal/internal/rtmp/chunk"
)

// User control event types.
const (
	UserControlStreamBegin      uint16 = 0
	UserControlStreamEOF        uint16 = 1
	UserControlStreamDry        uint16 = 2
	UserControlSetBufferLength  uint16 = 3
	UserControlStreamIsRecorded uint16 = 4
	UserControlPingRequest      uint16 = 6
	UserControlPingResponse     uint16 = 7
	UserControlBufferEmpty      uint16 = 31 // FMS and Red5: buffer ran empty on a stream
	UserControlBufferReady      uint16 = 32 // FMS and Red5: buffer filled again
)

// UserControl (type 4) carries a user control event. Which fields are used
// depends on Event: StreamID for the stream events (0, 1, 2, 4, 31, 32 and
// any unknown event with data), StreamID and BufferLength (milliseconds) for
// SetBufferLength, Timestamp for PingRequest and PingResponse.
type UserControl struct {
	Event        uint16
	StreamID     uint32
	BufferLength uint32
	Timestamp    uint32
}

// Type returns TypeUserControl.
func (*UserControl) Type() uint8 { return TypeUserControl }

func (u *UserControl) unmarshal(m *chunk.Message) error {
	if err := need(m, "event type", 2); err != nil {
		return err
	}
	u.Event = binary.BigEndian.Uint16(m.Body)
	data := m.Body[2:]
	switch u.Event {
	case UserControlSetBufferLength:
		if err := need(m, "set buffer length stream id and buffer length", 10); err != nil {
			return err
		}
		u.StreamID = binary.BigEndian.Uint32(data)
		u.BufferLength = binary.BigEndian.Uint32(data[4:])
	case UserControlPingRequest, UserControlPingResponse:
		if err := need(m, fmt.Sprintf("event %d timestamp", u.Event), 6); err != nil {
			return err
		}
		u.Timestamp = binary.BigEndian.Uint32(data)
	case UserControlStreamBegin, UserControlStreamEOF, UserControlStreamDry,
		UserControlStreamIsRecorded, UserControlBufferEmpty, UserControlBufferReady:
		if err := need(m, fmt.Sprintf("event %d stream id", u.Event), 6); err != nil {
			return err
		}
		u.StreamID = binary.BigEndian.Uint32(data)
	default:
		if len(data) >= 4 {
			u.StreamID = binary.BigEndian.Uint32(data)
		}
	}
	return nil
}

func (u *UserControl) marshal() (*chunk.Message, error) {
	b := make([]byte, 2, 10)
	binary.BigEndian.PutUint16(b, u.Event)
	switch u.Event {
	case UserControlSetBufferLength:
		b = binary.BigEndian.AppendUint32(b, u.StreamID)
		b = binary.BigEndian.AppendUint32(b, u.BufferLength)
	case UserControlPingRequest, UserControlPingResponse:
		b = binary.BigEndian.AppendUint32(b, u.Timestamp)
	default:
		b = binary.BigEndian.AppendUint32(b, u.StreamID)
	}
	return controlMessage(TypeUserControl, b), nil
}
