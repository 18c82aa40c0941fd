package message

import "github.com/shoal-live/shoal/internal/rtmp/chunk"

// Aggregate (type 22) is a sequence of FLV-tag-like sub-messages. It is
// passed through undecoded.
type Aggregate struct {
	ChunkStreamID uint32
	Timestamp     uint32
	StreamID      uint32
	Payload       []byte
}

// Type returns TypeAggregate.
func (*Aggregate) Type() uint8 { return TypeAggregate }

func (a *Aggregate) unmarshal(m *chunk.Message) error {
	*a = Aggregate{ChunkStreamID: m.ChunkStreamID, Timestamp: m.Timestamp, StreamID: m.StreamID, Payload: m.Body}
	return nil
}

func (a *Aggregate) marshal() (*chunk.Message, error) {
	return &chunk.Message{
		ChunkStreamID: orDefault(a.ChunkStreamID, ChunkStreamVideo),
		Timestamp:     a.Timestamp,
		TypeID:        TypeAggregate,
		StreamID:      a.StreamID,
		Body:          a.Payload,
	}, nil
}
