package amf

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"
)

var (
	longString    = strings.Repeat("a", 70000)
	maxShortStr   = strings.Repeat("b", math.MaxUint16)
	sharedArray3  = &Array{Assoc: []Property{{"k", "v"}}, Dense: []any{int32(1)}}
	sharedObject0 = Object{{"x", 1.0}}
)

// amf0Cases is the AMF0 codec table: decode, encode (byte-exact) and fuzz
// seeds.
var amf0Cases = []codecCase{
	{name: "number zero", value: 0.0, raw: x("00 0000000000000000")},
	{name: "number 1.5", value: 1.5, raw: x("00 3ff8000000000000")},
	{name: "number -1", value: -1.0, raw: x("00 bff0000000000000")},
	{name: "number NaN", value: math.NaN(), raw: x("00 7ff8000000000001")},
	{name: "number +Inf", value: math.Inf(1), raw: x("00 7ff0000000000000")},
	{name: "true", value: true, raw: x("01 01")},
	{name: "false", value: false, raw: x("01 00")},
	{name: "empty string", value: "", raw: x("02 0000")},
	{name: "string", value: "hello", raw: x("02 0005 'hello'")},
	{name: "utf-8 string", value: "héllo", raw: x("02 0006 'héllo'")},
	{name: "longest short string", value: maxShortStr, raw: cat(x("02 ffff"), []byte(maxShortStr))},
	{name: "long string", value: longString, raw: cat(x("0c 00011170"), []byte(longString))},
	{name: "null", value: nil, raw: x("05")},
	{name: "undefined", value: Undefined{}, raw: x("06")},
	{
		name:  "BallControl coordinates",
		value: Object{{"x", 100.0}, {"y", 200.0}},
		raw:   x("03 0001 'x' 00 4059000000000000 0001 'y' 00 4069000000000000 0000 09"),
	},
	{name: "empty object", value: Object{}, raw: x("03 0000 09")},
	{
		name:  "nested object",
		value: Object{{"a", Object{{"b", nil}}}, {"c", "d"}},
		raw:   x("03 0001 'a' 03 0001 'b' 05 0000 09 0001 'c' 02 0001 'd' 0000 09"),
	},
	{
		name:  "object with an empty key",
		value: Object{{"", 1.0}},
		raw:   x("03 0000 00 3ff0000000000000 0000 09"),
	},
	{
		name:  "ecma array",
		value: ECMAArray{{"duration", 0.0}, {"0", "x"}},
		raw:   x("08 00000002 0008 'duration' 00 0000000000000000 0001 '0' 02 0001 'x' 0000 09"),
	},
	{name: "empty ecma array", value: ECMAArray{}, raw: x("08 00000000 0000 09")},
	{
		name:  "strict array",
		value: StrictArray{1.0, "a", nil},
		raw:   x("0a 00000003 00 3ff0000000000000 02 0001 'a' 05"),
	},
	{name: "empty strict array", value: StrictArray{}, raw: x("0a 00000000")},
	{name: "date", value: Date{Millis: 1700000000000}, raw: x("0b 4278bcfe56800000 0000")},
	{name: "xml document", value: XMLDocument("<a/>"), raw: x("0f 00000004 '<a/>'")},
	{
		name:  "typed object",
		value: &TypedObject{Class: "Foo", Props: Object{{"a", 1.0}}},
		raw:   x("10 0003 'Foo' 0001 'a' 00 3ff0000000000000 0000 09"),
	},
	{name: "avmplus byte array", value: ByteArray{1, 2, 3}, raw: x("11 0c 07 010203")},
	{name: "avmplus xml", value: XML("<a/>"), raw: x("11 0b 09 '<a/>'")},
	{
		name:  "avmplus array with associative part",
		value: &Array{Assoc: []Property{{"k", "v"}}, Dense: []any{int32(1)}},
		raw:   x("11 09 03 03 'k' 06 03 'v' 01 04 01"),
	},
	{
		name:  "avmplus vector",
		value: &Vector{Kind: VectorDouble, Items: []any{0.5}},
		raw:   x("11 0f 03 00 3fe0000000000000"),
	},
	{
		name:  "avmplus dictionary",
		value: &Dictionary{Entries: []DictEntry{{Key: "k", Value: int32(1)}}},
		raw:   x("11 11 03 00 06 03 'k' 04 01"),
	},
	{
		name:  "amf3 value inside an object",
		value: Object{{"b", ByteArray{1}}},
		raw:   x("03 0001 'b' 11 0c 03 01 0000 09"),
	},
	{
		name:  "repeated amf3 value written twice without references",
		value: StrictArray{sharedArray3, sharedArray3},
		raw: x(`0a 00000002 11 09 03 03 'k' 06 03 'v' 01 04 01
		                     11 09 03 03 'k' 06 03 'v' 01 04 01`),
	},
	{
		name:  "command sequence",
		value: seq{"_result", 1.0, nil, Object{{"code", "NetConnection.Connect.Success"}}},
		raw: x(`02 0007 '_result' 00 3ff0000000000000 05
		        03 0004 'code' 02 001d 'NetConnection.Connect.Success' 0000 09`),
	},

	// Decode only: the encoder writes these values differently.
	{name: "boolean 2 is true", value: true, raw: x("01 02"), only: decodeOnly},
	{name: "unsupported is undefined", value: Undefined{}, raw: x("0d"), only: decodeOnly},
	{name: "date time zone ignored", value: Date{Millis: 0.5}, raw: x("0b 3fe0000000000000 01e0"), only: decodeOnly},
	{name: "short long string", value: "hi", raw: x("0c 00000002 'hi'"), only: decodeOnly},
	{
		name:  "ecma array count hint ignored",
		value: ECMAArray{{"a", nil}},
		raw:   x("08 00000009 0001 'a' 05 0000 09"),
		only:  decodeOnly,
	},
	{
		name:  "reference to an earlier object",
		value: StrictArray{sharedObject0, sharedObject0},
		raw:   x("0a 00000002 03 0001 'x' 00 3ff0000000000000 0000 09 07 0001"),
		only:  decodeOnly,
	},
	{
		name:  "reference to the first object",
		value: seq{Object{}, Object{}},
		raw:   x("03 0000 09 07 0000"),
		only:  decodeOnly,
	},
	{name: "avmplus integer", value: int32(5), raw: x("11 04 05"), only: decodeOnly},
	{
		name:  "avmplus values share one string table",
		value: seq{"hello", "hello"},
		raw:   x("11 06 0b 'hello' 11 06 00"),
		only:  decodeOnly,
	},

	// Encode only: Go conveniences and types that decode as something else.
	{name: "int32 as number", value: int32(5), raw: x("00 4014000000000000"), only: encodeOnly},
	{name: "int as number", value: 100, raw: x("00 4059000000000000"), only: encodeOnly},
	{name: "int64 as number", value: int64(-1), raw: x("00 bff0000000000000"), only: encodeOnly},
	{name: "uint32 as number", value: uint32(3), raw: x("00 4008000000000000"), only: encodeOnly},
	{name: "float32 as number", value: float32(1.5), raw: x("00 3ff8000000000000"), only: encodeOnly},
	{
		name:  "map as object with sorted keys",
		value: map[string]any{"y": 200, "x": 100},
		raw:   x("03 0001 'x' 00 4059000000000000 0001 'y' 00 4069000000000000 0000 09"),
		only:  encodeOnly,
	},
	{name: "slice as strict array", value: []any{true}, raw: x("0a 00000001 01 01"), only: encodeOnly},
	{
		name:  "time as date",
		value: time.UnixMilli(1700000000000),
		raw:   x("0b 4278bcfe56800000 0000"),
		only:  encodeOnly,
	},
	{
		name:  "typed object without class as object",
		value: &TypedObject{Props: Object{{"a", nil}}, Sealed: 1},
		raw:   x("03 0001 'a' 05 0000 09"),
		only:  encodeOnly,
	},
	{name: "nil typed object as null", value: (*TypedObject)(nil), raw: x("05"), only: encodeOnly},
}

func TestAMF0Decode(t *testing.T) { testDecode(t, amf0Cases, Unmarshal) }

func TestAMF0Encode(t *testing.T) { testEncode(t, amf0Cases, Marshal) }

func TestAMF0Truncated(t *testing.T) { testTruncated(t, amf0Cases, NewDecoder) }

func TestAMF0LongKeyFallsBackToAMF3(t *testing.T) {
	key := strings.Repeat("k", math.MaxUint16+1)
	in := Object{{key, 1.0}}
	raw, err := Marshal(in)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	if raw[0] != marker0AVMPlus {
		t.Fatalf("Marshal(object with a %d-byte key) starts with 0x%02x, want 0x11", len(key), raw[0])
	}
	got, err := Unmarshal(raw)
	if err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if !Equal(got[0], in) {
		t.Errorf("Unmarshal(Marshal(v)) = %v, want Equal to v", got[0])
	}
}

func TestAMF0ReadWriteUTF8(t *testing.T) {
	e := NewEncoder(nil)
	if err := e.WriteUTF8("BallControl"); err != nil {
		t.Fatalf("WriteUTF8: %v", err)
	}
	if err := e.Encode(1.0); err != nil {
		t.Fatalf("Encode: %v", err)
	}
	want := x("000b 'BallControl' 00 3ff0000000000000")
	if !bytes.Equal(e.Bytes(), want) {
		t.Fatalf("Bytes() = % x, want % x", e.Bytes(), want)
	}
	d := NewDecoder(e.Bytes(), DefaultLimits)
	s, err := d.ReadUTF8()
	if err != nil || s != "BallControl" {
		t.Fatalf("ReadUTF8() = %q, %v, want BallControl", s, err)
	}
	if d.Offset() != 13 {
		t.Errorf("Offset() = %d, want 13", d.Offset())
	}
	v, err := d.Decode()
	if err != nil || v != 1.0 {
		t.Fatalf("Decode() = %v, %v, want 1", v, err)
	}
	if d.More() {
		t.Errorf("More() = true at the end")
	}
}

func FuzzDecode0(f *testing.F) {
	for _, tc := range amf0Cases {
		if len(tc.raw) <= maxSeedLen {
			f.Add(tc.raw)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkRoundTrip(t, b, NewDecoder, Marshal) })
}
