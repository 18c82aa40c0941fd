package message

import "github.com/shoal-live/shoal/internal/rtmp/chunk"

// CommandAMF0 (type 20) is a remote call: connect, createStream, publish,
// play, _result, _error, onStatus and the like. Object is the command object
// (nil encodes as AMF0 null); Args are the values after it.
type CommandAMF0 struct {
	ChunkStreamID uint32
	StreamID      uint32
	Name          string
	TransactionID float64
	Object        any
	Args          []any
}

// Type returns TypeCommandAMF0.
func (*CommandAMF0) Type() uint8 { return TypeCommandAMF0 }

func (c *CommandAMF0) unmarshal(m *chunk.Message) error {
	vs, err := decodeValues(m.TypeID, m.Body)
	if err != nil {
		return err
	}
	cmd, err := parseCommand(m.TypeID, vs)
	if err != nil {
		return err
	}
	*c = CommandAMF0{
		ChunkStreamID: m.ChunkStreamID,
		StreamID:      m.StreamID,
		Name:          cmd.name,
		TransactionID: cmd.txID,
		Object:        cmd.object,
		Args:          cmd.args,
	}
	return nil
}

func (c *CommandAMF0) marshal() (*chunk.Message, error) {
	body, err := encodeCommand(TypeCommandAMF0, nil, command{c.Name, c.TransactionID, c.Object, c.Args})
	if err != nil {
		return nil, err
	}
	return commandMessage(TypeCommandAMF0, c.ChunkStreamID, c.StreamID, body), nil
}
