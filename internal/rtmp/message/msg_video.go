package message

import "github.com/shoal-live/shoal/internal/rtmp/chunk"

// Video (type 9) carries one FLV video tag body. Payload shares memory with
// the chunk message it was decoded from.
type Video struct {
	ChunkStreamID uint32
	Timestamp     uint32
	StreamID      uint32
	Payload       []byte
}

// Type returns TypeVideo.
func (*Video) Type() uint8 { return TypeVideo }

func (v *Video) unmarshal(m *chunk.Message) error {
	*v = Video{ChunkStreamID: m.ChunkStreamID, Timestamp: m.Timestamp, StreamID: m.StreamID, Payload: m.Body}
	return nil
}

func (v *Video) marshal() (*chunk.Message, error) {
	return &chunk.Message{
		ChunkStreamID: orDefault(v.ChunkStreamID, ChunkStreamVideo),
		Timestamp:     v.Timestamp,
		TypeID:        TypeVideo,
		StreamID:      v.StreamID,
		Body:          v.Payload,
	}, nil
}
