package message

import "github.com/shoal-live/shoal/internal/rtmp/chunk"

// Audio (type 8) carries one FLV audio tag body. Payload shares memory with
// the chunk message it was decoded from.
type Audio struct {
	ChunkStreamID uint32
	Timestamp     uint32
	StreamID      uint32
	Payload       []byte
}

// Type returns TypeAudio.
func (*Audio) Type() uint8 { return TypeAudio }

func (a *Audio) unmarshal(m *chunk.Message) error {
	*a = Audio{ChunkStreamID: m.ChunkStreamID, Timestamp: m.Timestamp, StreamID: m.StreamID, Payload: m.Body}
	return nil
}

func (a *Audio) marshal() (*chunk.Message, error) {
	return &chunk.Message{
		ChunkStreamID: orDefault(a.ChunkStreamID, ChunkStreamAudio),
		Timestamp:     a.Timestamp,
		TypeID:        TypeAudio,
		StreamID:      a.StreamID,
		Body:          a.Payload,
	}, nil
}
