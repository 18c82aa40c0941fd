package amf

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// maxEncodeDepth bounds encoder recursion, which also stops cyclic values.
const maxEncodeDepth = 1024

// Encoder appends AMF values to a byte slice. An AMF3 encoder keeps
// reference tables until Reset, so one Encoder writes one message. An AMF0
// encoder writes AMF3-only values (*Array, XML, ByteArray, *Vector,
// *Dictionary) as marker 0x11 and AMF3, without AMF3 references, which every
// decoder reads the same whatever its reference-table scope.
//
// AMF3 object references are written for repeated values of pointer types,
// and for repeated non-empty slices (Object, StrictArray, ECMAArray,
// ByteArray) that share their first element; Date, XML and XMLDocument
// values are always written in full.
type Encoder struct {
	buf    []byte
	amf3   bool
	noRefs bool // AMF3 inside AMF0: write no references
	depth  int

	strs   map[string]int
	objs   map[objKey]int
	nobjs  int
	traits map[string]int
	key    []byte // traits key scratch
}

// objKey identifies an encoded value for AMF3 object references.
type objKey struct {
	p    any // pointer to the value or to its first element
	n    int // slice length
	kind byte
}

// NewEncoder returns an AMF0 encoder that appends to buf.
func NewEncoder(buf []byte) *Encoder { return &Encoder{buf: buf} }

// NewEncoder3 returns an AMF3 encoder that appends to buf.
func NewEncoder3(buf []byte) *Encoder { return &Encoder{buf: buf, amf3: true} }

// Bytes returns the encoded bytes.
func (e *Encoder) Bytes() []byte { return e.buf }

// Reset makes e append to buf (pass buf[:0] to reuse storage) with empty
// reference tables.
func (e *Encoder) Reset(buf []byte) {
	e.buf, e.depth, e.noRefs, e.nobjs = buf, 0, false, 0
	clear(e.strs)
	clear(e.objs)
	clear(e.traits)
}

// Encode appends v. On error nothing is appended; an AMF3 encoder should
// then be Reset, since its reference tables may hold part of v.
func (e *Encoder) Encode(v any) error {
	n := len(e.buf)
	var err error
	codec := codec0
	if e.amf3 {
		codec = codec3
		err = e.encode3(v)
	} else {
		err = e.encode0(v)
	}
	if err != nil {
		e.buf = e.buf[:n]
		e.depth, e.noRefs = 0, false
		return fmt.Errorf("%s: %w", codec, err)
	}
	return nil
}

// WriteUTF8 appends s with a u16 length and no type marker.
func (e *Encoder) WriteUTF8(s string) error {
	if len(s) > math.MaxUint16 {
		return fmt.Errorf("utf-8 string of %d bytes: %w", len(s), ErrTooLong)
	}
	e.buf = appendUTF8(e.buf, s)
	return nil
}

// Marshal encodes vs as a sequence of AMF0 values.
func Marshal(vs ...any) ([]byte, error) { return marshal(NewEncoder(nil), vs) }

// Marshal3 encodes vs as a sequence of AMF3 values sharing one set of
// reference tables.
func Marshal3(vs ...any) ([]byte, error) { return marshal(NewEncoder3(nil), vs) }

func marshal(e *Encoder, vs []any) ([]byte, error) {
	for _, v := range vs {
		if err := e.Encode(v); err != nil {
			return nil, err
		}
	}
	return e.Bytes(), nil
}

func (e *Encoder) push() error {
	e.depth++
	if e.depth > maxEncodeDepth {
		return fmt.Errorf("more than %d levels (cyclic value?): %w", maxEncodeDepth, ErrTooDeep)
	}
	return nil
}

// goNumber converts the Go numeric types the encoders accept as
// conveniences.
func goNumber(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int32:
		return float64(n), true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int8:
		return float64(n), true
	case int16:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint8:
		return float64(n), true
	case uint16:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint64:
		return float64(n), true
	}
	return 0, false
}

// goInt converts the Go integer types to int64; ok is false for other types
// and for uint64 values above math.MaxInt64.
func goInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int32:
		return int64(n), true
	case int:
		return int64(n), true
	case int8:
		return int64(n), true
	case int16:
		return int64(n), true
	case int64:
		return n, true
	case uint:
		return int64(n), uint64(n) <= math.MaxInt64
	case uint8:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint32:
		return int64(n), true
	case uint64:
		return int64(n), n <= math.MaxInt64
	}
	return 0, false
}

// sortedProps returns the entries of m as properties sorted by key.
func sortedProps(m map[string]any) Object {
	props := make(Object, 0, len(m))
	for k, v := range m {
		props = append(props, Property{Key: k, Value: v})
	}
	slices.SortFunc(props, func(a, b Property) int { return strings.Compare(a.Key, b.Key) })
	return props
}
