package message

import "github.com/shoal-live/shoal/internal/rtmp/chunk"

// DataAMF3 (type 15) is a data message as AMF3 clients send it: a 0x00
// format byte, then AMF0 values, any of which may switch to AMF3 with marker
// 0x11.
type DataAMF3 struct {
	ChunkStreamID uint32
	Timestamp     uint32
	StreamID      uint32
	Values        []any
}

// Type returns TypeDataAMF3.
func (*DataAMF3) Type() uint8 { return TypeDataAMF3 }

func (d *DataAMF3) unmarshal(m *chunk.Message) error {
	vs, err := decodeValues(m.TypeID, amf3Body(m))
	if err != nil {
		return err
	}
	*d = DataAMF3{ChunkStreamID: m.ChunkStreamID, Timestamp: m.Timestamp, StreamID: m.StreamID, Values: vs}
	return nil
}

func (d *DataAMF3) marshal() (*chunk.Message, error) {
	body, err := encodeValues(TypeDataAMF3, []byte{0}, d.Values...)
	if err != nil {
		return nil, err
	}
	return &chunk.Message{
		ChunkStreamID: orDefault(d.ChunkStreamID, ChunkStreamData),
		Timestamp:     d.Timestamp,
		TypeID:        TypeDataAMF3,
		StreamID:      d.StreamID,
		Body:          body,
	}, nil
}
