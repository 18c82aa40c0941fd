package somsg

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/shoal-live/shoal/internal/rtmp/amf"
)

// Append appends the body of m to dst as Red5 writes it (for a type-16
// message the caller writes the leading 0x00 first): flags 2 for a
// persistent object and 0 otherwise, then a zero reserved field; a Status
// is the code, then the level; a SendMessage with nil Args carries one AMF
// null. amf3 selects AMF3 for event values. On error dst is returned
// unchanged.
func Append(dst []byte, m *Message, amf3 bool) ([]byte, error) {
	start := len(dst)
	e := encoder{b: dst, amf3: amf3}
	if err := e.message(m); err != nil {
		return dst[:start], err
	}
	return e.b, nil
}

type encoder struct {
	b    []byte
	amf3 bool
	enc  *amf.Encoder
}

func (e *encoder) message(m *Message) error {
	if err := e.utf8(m.Name); err != nil {
		return fmt.Errorf("object name: %w", err)
	}
	var flags uint32
	if m.Persistent {
		flags = flagPersistent
	}
	e.b = binary.BigEndian.AppendUint32(e.b, m.Version)
	e.b = binary.BigEndian.AppendUint32(e.b, flags)
	e.b = binary.BigEndian.AppendUint32(e.b, 0)
	for i := range m.Events {
		ev := &m.Events[i]
		if err := e.event(ev); err != nil {
			return fmt.Errorf("event %d (%s): %w", i, ev.Type, err)
		}
	}
	return nil
}

func (e *encoder) event(ev *Event) error {
	e.b = append(e.b, byte(ev.Type), 0, 0, 0, 0)
	mark := len(e.b)
	switch ev.Type {
	case Use, Release, Clear, UseSuccess:
	case RequestChange, Change:
		if len(ev.Pairs) > 0 {
			for _, p := range ev.Pairs {
				if err := e.pair(p.Key, p.Value); err != nil {
					return err
				}
			}
			break
		}
		if err := e.pair(ev.Key, ev.Value); err != nil {
			return err
		}
	case Success, Remove, RequestRemove:
		if err := e.utf8(ev.Key); err != nil {
			return fmt.Errorf("key: %w", err)
		}
		if ev.Value != nil {
			if err := e.value(ev.Value); err != nil {
				return fmt.Errorf("value of %q: %w", ev.Key, err)
			}
		}
	case SendMessage:
		e.b = amf0String(e.b, ev.Handler)
		if ev.Args == nil {
			if err := e.value(nil); err != nil {
				return err
			}
			break
		}
		enc := e.values()
		for i, a := range ev.Args {
			if err := enc.Encode(a); err != nil {
				return fmt.Errorf("argument %d of %q: %w", i, ev.Handler, err)
			}
		}
		e.b = enc.Bytes()
	case Status:
		if err := e.utf8(ev.Code); err != nil {
			return fmt.Errorf("code: %w", err)
		}
		if err := e.utf8(ev.Level); err != nil {
			return fmt.Errorf("level: %w", err)
		}
	default:
		return ErrUnknownType
	}
	n := len(e.b) - mark
	if uint64(n) > math.MaxUint32 {
		return fmt.Errorf("data of %d bytes: %w", n, amf.ErrTooLong)
	}
	binary.BigEndian.PutUint32(e.b[mark-4:], uint32(n))
	return nil
}

func (e *encoder) pair(key string, v any) error {
	if err := e.utf8(key); err != nil {
		return fmt.Errorf("key: %w", err)
	}
	if err := e.value(v); err != nil {
		return fmt.Errorf("value of %q: %w", key, err)
	}
	return nil
}

// value appends v with fresh reference tables.
func (e *encoder) value(v any) error {
	enc := e.values()
	if err := enc.Encode(v); err != nil {
		return err
	}
	e.b = enc.Bytes()
	return nil
}

// values returns a value encoder appending to e.b with fresh reference
// tables; the caller takes its Bytes back into e.b.
func (e *encoder) values() *amf.Encoder {
	switch {
	case e.enc != nil:
		e.enc.Reset(e.b)
	case e.amf3:
		e.enc = amf.NewEncoder3(e.b)
	default:
		e.enc = amf.NewEncoder(e.b)
	}
	return e.enc
}

func (e *encoder) utf8(s string) error {
	if len(s) > math.MaxUint16 {
		return fmt.Errorf("string of %d bytes: %w", len(s), amf.ErrTooLong)
	}
	e.b = binary.BigEndian.AppendUint16(e.b, uint16(len(s)))
	e.b = append(e.b, s...)
	return nil
}

// amf0String appends s as a marked AMF0 string, or long string past 64 KiB.
func amf0String(b []byte, s string) []byte {
	if len(s) <= math.MaxUint16 {
		b = append(b, 0x02)
		b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
		return append(b, s...)
	}
	b = append(b, 0x0c)
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}
