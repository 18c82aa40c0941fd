package message

import "github.com/shoal-live/shoal/internal/rtmp/chunk"

// DataAMF0 (type 18) carries AMF0 values that are not a command:
// @setDataFrame and onMetaData from publishers, onMetaData and
// |RtmpSampleAccess to players.
type DataAMF0 struct {
	ChunkStreamID uint32
	Timestamp     uint32
	StreamID      uint32
	Values        []any
}

// Type returns TypeDataAMF0.
func (*DataAMF0) Type() uint8 { return TypeDataAMF0 }

func (d *DataAMF0) unmarshal(m *chunk.Message) error {
	vs, err := decodeValues(m.TypeID, m.Body)
	if err != nil {
		return err
	}
	*d = DataAMF0{ChunkStreamID: m.ChunkStreamID, Timestamp: m.Timestamp, StreamID: m.StreamID, Values: vs}
	return nil
}

func (d *DataAMF0) marshal() (*chunk.Message, error) {
	body, err := encodeValues(TypeDataAMF0, nil, d.Values...)
	if err != nil {
		return nil, err
	}
	return &chunk.Message{
		ChunkStreamID: orDefault(d.ChunkStreamID, ChunkStreamData),
		Timestamp:     d.Timestamp,
		TypeID:        TypeDataAMF0,
		StreamID:      d.StreamID,
		Body:          body,
	}, nil
}
