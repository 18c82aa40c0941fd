package message

import (
	"fmt"

	"github.com/shoal-live/shoal/internal/rtmp/amf"
	"github.com/shoal-live/shoal/internal/rtmp/chunk"
)

// decodeValues decodes the AMF0 values of b (switching to AMF3 per value on
// marker 0x11).
func decodeValues(t uint8, b []byte) ([]any, error) {
	d := amf.NewDecoder(b, amf.DefaultLimits)
	var vs []any
	for d.More() {
		v, err := d.Decode()
		if err != nil {
			return nil, decodeError(t, fmt.Sprintf("value %d", len(vs)), err)
		}
		vs = append(vs, v)
	}
	return vs, nil
}

// encodeValues appends vs in AMF0 to prefix.
func encodeValues(t uint8, prefix []byte, vs ...any) ([]byte, error) {
	e := amf.NewEncoder(prefix)
	for i, v := range vs {
		if err := e.Encode(v); err != nil {
			return nil, fmt.Errorf("message: encode %s (type %d): value %d: %w", typeName(t), t, i, err)
		}
	}
	return e.Bytes(), nil
}

// amf3Body returns the AMF0 values of a type 15 or 17 body: they follow one
// format byte, 0x00 in practice. A body that does not start with 0x00 is
// read from its first byte, as some encoders omit the format byte.
func amf3Body(m *chunk.Message) []byte {
	if len(m.Body) > 0 && m.Body[0] == 0 {
		return m.Body[1:]
	}
	return m.Body
}
