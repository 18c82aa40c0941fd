package message

import "github.com/shoal-live/shoal/internal/rtmp/chunk"

// SharedObject carries a shared object message: type 19 (AMF0) or type 16
// (AMF3). For type 16, Body excludes the leading encoding byte, which Encode
// writes as 0x00. The events in Body are decoded elsewhere. Shared object
// messages travel on chunk stream 3, message stream 0.
type SharedObject struct {
	AMF3 bool
	Body []byte
}

// Type returns TypeSharedObjectAMF3 or TypeSharedObjectAMF0.
func (s *SharedObject) Type() uint8 {
	if s.AMF3 {
		return TypeSharedObjectAMF3
	}
	return TypeSharedObjectAMF0
}

func (s *SharedObject) unmarshal(m *chunk.Message) error {
	s.AMF3 = m.TypeID == TypeSharedObjectAMF3
	s.Body = m.Body
	if s.AMF3 {
		if err := need(m, "encoding byte", 1); err != nil {
			return err
		}
		s.Body = m.Body[1:]
	}
	return nil
}

func (s *SharedObject) marshal() (*chunk.Message, error) {
	body := s.Body
	if s.AMF3 {
		body = append(make([]byte, 1, 1+len(s.Body)), s.Body...)
	}
	return &chunk.Message{ChunkStreamID: ChunkStreamCommand, TypeID: s.Type(), Body: body}, nil
}
