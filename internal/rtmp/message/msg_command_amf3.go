package message

import "github.com/shoal-live/shoal/internal/rtmp/chunk"

// CommandAMF3 (type 17) is a command as AMF3 clients (Flash Player with
// objectEncoding 3) send it: a 0x00 format byte, then AMF0 values, any of
// which may switch to AMF3 with marker 0x11.
type CommandAMF3 struct {
	ChunkStreamID uint32
	StreamID      uint32
	Name          string
	TransactionID float64
	Object        any
	Args          []any
}

// Type returns TypeCommandAMF3.
func (*CommandAMF3) Type() uint8 { return TypeCommandAMF3 }

func (c *CommandAMF3) unmarshal(m *chunk.Message) error {
	vs, err := decodeValues(m.TypeID, amf3Body(m))
	if err != nil {
		return err
	}
	cmd, err := parseCommand(m.TypeID, vs)
	if err != nil {
		return err
	}
	*c = CommandAMF3{
		ChunkStreamID: m.ChunkStreamID,
		StreamID:      m.StreamID,
		Name:          cmd.name,
		TransactionID: cmd.txID,
		Object:        cmd.object,
		Args:          cmd.args,
	}
	return nil
}

func (c *CommandAMF3) marshal() (*chunk.Message, error) {
	body, err := encodeCommand(TypeCommandAMF3, []byte{0}, command{c.Name, c.TransactionID, c.Object, c.Args})
	if err != nil {
		return nil, err
	}
	return commandMessage(TypeCommandAMF3, c.ChunkStreamID, c.StreamID, body), nil
}
