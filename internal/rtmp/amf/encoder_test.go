package amf

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestEncodeErrors(t *testing.T) {
	cyclic := &TypedObject{Class: "A"}
	cyclic.Props = Object{{"self", cyclic}}
	tests := []struct {
		name  string
		amf3  bool
		value any
		err   error
		msg   string
	}{
		{name: "amf0 channel", value: make(chan int), err: ErrUnsupported, msg: "amf0: cannot encode Go type chan int"},
		{name: "amf3 struct", amf3: true, value: struct{ A int }{}, err: ErrUnsupported, msg: "struct { A int }"},
		{
			name:  "amf0 nested unsupported",
			value: Object{{"x", StrictArray{1.0, func() {}}}},
			err:   ErrUnsupported,
			msg:   `amf0: property "x": strict array item 1: cannot encode Go type func()`,
		},
		{name: "amf0 raw bytes", value: []byte{1}, err: ErrUnsupported, msg: "use ByteArray"},
		{name: "amf0 cyclic", value: cyclic, err: ErrTooDeep},
		{name: "amf3 empty dynamic key", amf3: true, value: Object{{"", 1.0}}, err: ErrUnsupported, msg: "empty key"},
		{name: "amf3 empty array key", amf3: true, value: ECMAArray{{"", 1.0}}, err: ErrUnsupported, msg: "empty key"},
		{
			name:  "amf3 more sealed members than properties",
			amf3:  true,
			value: &TypedObject{Class: "A", Sealed: 2, Props: Object{{"a", nil}}},
			err:   ErrUnsupported,
			msg:   "2 sealed members and 1 properties",
		},
		{
			name:  "amf3 int vector with a string",
			amf3:  true,
			value: &Vector{Kind: VectorInt, Items: []any{"1"}},
			err:   ErrUnsupported,
			msg:   "vector item 0: string 1 is not an int32",
		},
		{
			name:  "amf3 uint vector with a negative number",
			amf3:  true,
			value: &Vector{Kind: VectorUint, Items: []any{-1}},
			err:   ErrUnsupported,
		},
		{name: "amf3 vector of unknown kind", amf3: true, value: &Vector{Kind: 3}, err: ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte{0xaa}
			e := NewEncoder(prefix)
			if tt.amf3 {
				e = NewEncoder3(prefix)
			}
			err := e.Encode(tt.value)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Encode(%T) = %v, want %v", tt.value, err, tt.err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Encode(%T) = %q, want it to contain %q", tt.value, err, tt.msg)
			}
			if !bytes.Equal(e.Bytes(), prefix) {
				t.Errorf("after a failed Encode, Bytes() = % x, want % x", e.Bytes(), prefix)
			}
		})
	}
}

func TestWriteUTF8TooLong(t *testing.T) {
	e := NewEncoder(nil)
	if err := e.WriteUTF8(strings.Repeat("a", 1<<16)); !errors.Is(err, ErrTooLong) {
		t.Errorf("WriteUTF8(64 KiB) = %v, want ErrTooLong", err)
	}
}

func TestAMF3CyclicValueEncodesAsReference(t *testing.T) {
	cyclic := &TypedObject{Class: "A", Dynamic: true}
	cyclic.Props = Object{{"self", cyclic}}
	raw, err := Marshal3(cyclic)
	if err != nil {
		t.Fatalf("Marshal3(cyclic) = %v", err)
	}
	if want := x("0a 0b 03 'A' 09 'self' 0a 00 01"); !bytes.Equal(raw, want) {
		t.Fatalf("Marshal3(cyclic) = % x, want % x", raw, want)
	}
	// The decoder refuses cycles: decoded values are trees.
	if _, err := Unmarshal3(raw); !errors.Is(err, ErrBadReference) {
		t.Errorf("Unmarshal3(cyclic) = %v, want ErrBadReference", err)
	}
}

func TestEncoderAppends(t *testing.T) {
	e := NewEncoder([]byte("hdr"))
	if err := e.Encode(nil); err != nil {
		t.Fatalf("Encode: %v", err)
	}
	if got := string(e.Bytes()); got != "hdr\x05" {
		t.Errorf("Bytes() = %q, want %q", got, "hdr\x05")
	}
}
