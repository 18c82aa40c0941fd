package somsg

import (
	"encoding/binary"
	"fmt"

	"github.com/shoal-live/shoal/internal/rtmp/amf"
)

// Decode decodes the body of a type-19 message, or of a type-16 message
// without its leading encoding byte (the message layer strips it). amf3
// selects AMF3 for event values; in AMF0, a value starting with marker 0x11
// is read as AMF3, as Red5 does. Keys, status strings and the SendMessage
// handler have the same encoding either way. Events of unknown types are
// skipped by their length.
func Decode(body []byte, amf3 bool) (*Message, error) {
	d := decoder{b: body, amf3: amf3}
	return d.message()
}

type decoder struct {
	b    []byte
	off  int
	amf3 bool
	d0   *amf.Decoder // AMF0 values and SendMessage handlers
	d3   *amf.Decoder // AMF3 values
}

func (d *decoder) message() (*Message, error) {
	name, err := d.utf8()
	if err != nil {
		return nil, fmt.Errorf("object name: %w", err)
	}
	if len(d.b)-d.off < headerSize {
		return nil, fmt.Errorf("header of %q: %d bytes left, want %d: %w", name, len(d.b)-d.off, headerSize, ErrTruncated)
	}
	m := &Message{
		Name:       name,
		Version:    binary.BigEndian.Uint32(d.b[d.off:]),
		Persistent: binary.BigEndian.Uint32(d.b[d.off+4:])&flagPersistent != 0,
	}
	d.off += headerSize // version, flags, reserved
	for i := 0; d.off < len(d.b); i++ {
		if len(d.b)-d.off < 5 {
			return nil, fmt.Errorf("event %d: header needs 5 bytes, %d left: %w", i, len(d.b)-d.off, ErrTruncated)
		}
		t := EventType(d.b[d.off])
		n := binary.BigEndian.Uint32(d.b[d.off+1:])
		d.off += 5
		if left := len(d.b) - d.off; uint64(n) > uint64(left) {
			return nil, fmt.Errorf("event %d (%s): length %d with %d bytes left: %w", i, t, n, left, ErrTruncated)
		}
		data := d.b[d.off : d.off+int(n)]
		d.off += int(n)
		ev, ok, err := d.event(t, data)
		if err != nil {
			return nil, fmt.Errorf("event %d (%s): %w", i, t, err)
		}
		if ok {
			m.Events = append(m.Events, ev)
		}
	}
	return m, nil
}

// event decodes the data of one event; ok is false for unknown types.
func (d *decoder) event(t EventType, data []byte) (ev Event, ok bool, err error) {
	ev.Type = t
	r := reader{b: data}
	switch t {
	case Use, Release, Clear, UseSuccess:
		// No data; Red5 ignores any.
	case RequestChange:
		if len(data) == 0 {
			break
		}
		if ev.Key, err = r.utf8(); err != nil {
			return ev, false, fmt.Errorf("key: %w", err)
		}
		if r.more() {
			if ev.Value, err = d.value(r.rest()); err != nil {
				return ev, false, fmt.Errorf("value of %q: %w", ev.Key, err)
			}
		}
	case Change:
		var pairs []amf.Property
		for r.more() {
			key, err := r.utf8()
			if err != nil {
				return ev, false, fmt.Errorf("key %d: %w", len(pairs), err)
			}
			v, n, err := d.valueN(r.rest())
			if err != nil {
				return ev, false, fmt.Errorf("value of %q: %w", key, err)
			}
			r.off += n
			pairs = append(pairs, amf.Property{Key: key, Value: v})
		}
		switch len(pairs) {
		case 0:
		case 1:
			ev.Key, ev.Value = pairs[0].Key, pairs[0].Value
		default:
			ev.Pairs = pairs
		}
	case Success, Remove, RequestRemove:
		if len(data) == 0 {
			break
		}
		if ev.Key, err = r.utf8(); err != nil {
			return ev, false, fmt.Errorf("key: %w", err)
		}
		if r.more() {
			if ev.Value, err = d.value(r.rest()); err != nil {
				return ev, false, fmt.Errorf("value of %q: %w", ev.Key, err)
			}
		}
	case SendMessage:
		if err := d.send(&ev, data); err != nil {
			return ev, false, err
		}
	case Status:
		if ev.Code, err = r.utf8(); err != nil {
			return ev, false, fmt.Errorf("code: %w", err)
		}
		if ev.Level, err = r.utf8(); err != nil {
			return ev, false, fmt.Errorf("level of %q: %w", ev.Code, err)
		}
		if r.more() {
			return ev, false, fmt.Errorf("%d bytes after level: %w", len(r.rest()), ErrMalformed)
		}
	default:
		return ev, false, nil
	}
	return ev, true, nil
}

// send decodes a SendMessage: a marked AMF0 string, then the arguments.
func (d *decoder) send(ev *Event, data []byte) error {
	d0 := d.amf0(data)
	h, err := d0.Decode()
	if err != nil {
		return fmt.Errorf("handler: %w", err)
	}
	s, ok := h.(string)
	if !ok {
		return fmt.Errorf("handler is %T, want a string: %w", h, ErrMalformed)
	}
	ev.Handler = s
	ev.Args = []any{}
	args := data[d0.Offset():]
	if len(args) == 0 {
		return nil
	}
	dv := d.values(args)
	for dv.More() {
		v, err := dv.Decode()
		if err != nil {
			return fmt.Errorf("argument %d of %q: %w", len(ev.Args), s, err)
		}
		ev.Args = append(ev.Args, v)
	}
	return nil
}

// value decodes data as exactly one value.
func (d *decoder) value(data []byte) (any, error) {
	v, n, err := d.valueN(data)
	if err != nil {
		return nil, err
	}
	if n != len(data) {
		return nil, fmt.Errorf("%d bytes after the value: %w", len(data)-n, ErrMalformed)
	}
	return v, nil
}

// valueN decodes one value at the start of data and says how long it was.
func (d *decoder) valueN(data []byte) (any, int, error) {
	dv := d.values(data)
	v, err := dv.Decode()
	if err != nil {
		return nil, 0, err
	}
	return v, dv.Offset(), nil
}

// values returns a value decoder of data with fresh reference tables.
func (d *decoder) values(data []byte) *amf.Decoder {
	if !d.amf3 {
		return d.amf0(data)
	}
	if d.d3 == nil {
		d.d3 = amf.NewDecoder3(data, amf.DefaultLimits)
	} else {
		d.d3.Reset(data)
	}
	return d.d3
}

// amf0 returns an AMF0 decoder of data with fresh reference tables.
func (d *decoder) amf0(data []byte) *amf.Decoder {
	if d.d0 == nil {
		d.d0 = amf.NewDecoder(data, amf.DefaultLimits)
	} else {
		d.d0.Reset(data)
	}
	return d.d0
}

func (d *decoder) utf8() (string, error) {
	r := reader{b: d.b, off: d.off}
	s, err := r.utf8()
	d.off = r.off
	return s, err
}

// reader reads the fixed-layout parts of a body.
type reader struct {
	b   []byte
	off int
}

func (r *reader) more() bool   { return r.off < len(r.b) }
func (r *reader) rest() []byte { return r.b[r.off:] }
func (r *reader) left() int    { return len(r.b) - r.off }

// utf8 reads a u16-length string.
func (r *reader) utf8() (string, error) {
	if r.left() < 2 {
		return "", fmt.Errorf("string length needs 2 bytes, %d left: %w", r.left(), ErrTruncated)
	}
	n := int(binary.BigEndian.Uint16(r.b[r.off:]))
	if r.left()-2 < n {
		return "", fmt.Errorf("string of %d bytes with %d left: %w", n, r.left()-2, ErrTruncated)
	}
	s := string(r.b[r.off+2 : r.off+2+n])
	r.off += 2 + n
	return s, nil
}
