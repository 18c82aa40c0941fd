package message

import (
	"fmt"

	"github.com/shoal-live/shoal/internal/rtmp/chunk"
)

// command is what CommandAMF0 and CommandAMF3 share.
type command struct {
	name   string
	txID   float64
	object any
	args   []any
}

// parseCommand splits decoded values into name, transaction id, command
// object and arguments. Only the name is required.
func parseCommand(t uint8, vs []any) (command, error) {
	var c command
	if len(vs) == 0 {
		return c, decodeError(t, "command name", ErrTruncated)
	}
	name, ok := vs[0].(string)
	if !ok {
		return c, decodeError(t, "command name", fmt.Errorf("got %T, want string", vs[0]))
	}
	c.name = name
	if len(vs) > 1 {
		switch id := vs[1].(type) {
		case float64:
			c.txID = id
		case int32:
			c.txID = float64(id)
		default:
			return c, decodeError(t, "transaction id of "+name, fmt.Errorf("got %T, want number", vs[1]))
		}
	}
	if len(vs) > 2 {
		c.object = vs[2]
	}
	if len(vs) > 3 {
		c.args = vs[3:]
	}
	return c, nil
}

// encodeCommand encodes a command after prefix.
func encodeCommand(t uint8, prefix []byte, c command) ([]byte, error) {
	vs := make([]any, 0, 3+len(c.args))
	vs = append(vs, c.name, c.txID, c.object)
	vs = append(vs, c.args...)
	return encodeValues(t, prefix, vs...)
}

// commandMessage builds the chunk message of a command.
func commandMessage(t uint8, csid, streamID uint32, body []byte) *chunk.Message {
	return &chunk.Message{
		ChunkStreamID: orDefault(csid, ChunkStreamCommand),
		TypeID:        t,
		StreamID:      streamID,
		Body:          body,
	}
}
