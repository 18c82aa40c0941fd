package amf

import (
	"math"
	"testing"
	"time"
)

var (
	sharedObject3    = Object{{"a", int32(1)}}
	sharedInner3     = StrictArray{"x"}
	sharedByteArray3 = ByteArray{1, 2, 3}
	sharedDate3      = Date{Millis: 0.5}
	sharedPoint1     = &TypedObject{Class: "Pt", Props: Object{{"x", int32(1)}, {"y", int32(2)}}, Sealed: 2}
	sharedPoint2     = &TypedObject{Class: "Pt", Props: Object{{"x", int32(3)}, {"y", int32(4)}}, Sealed: 2}
)

// amf3Cases is the AMF3 codec table: decode, encode (byte-exact) and fuzz
// seeds. Reference cases follow the AMF3 specification: strings, objects
// and traits are numbered in order of first appearance, from 0; a reference
// is the index shifted left with a zero flag bit (strings, objects) or
// shifted left by two with flag bits 01 (traits).
var amf3Cases = []codecCase{
	{name: "undefined", value: Undefined{}, raw: x("00")},
	{name: "null", value: nil, raw: x("01")},
	{name: "false", value: false, raw: x("02")},
	{name: "true", value: true, raw: x("03")},
	{name: "integer 0", value: int32(0), raw: x("04 00")},
	{name: "integer 127", value: int32(127), raw: x("04 7f")},
	{name: "integer 128", value: int32(128), raw: x("04 8100")},
	{name: "integer 16383", value: int32(16383), raw: x("04 ff7f")},
	{name: "integer 16384", value: int32(16384), raw: x("04 818000")},
	{name: "integer 2097151", value: int32(2097151), raw: x("04 ffff7f")},
	{name: "integer 2097152", value: int32(2097152), raw: x("04 80c08000")},
	{name: "integer max", value: int32(maxInt29), raw: x("04 bfffffff")},
	{name: "integer -1", value: int32(-1), raw: x("04 ffffffff")},
	{name: "integer min", value: int32(minInt29), raw: x("04 c0808000")},
	{name: "double 1.5", value: 1.5, raw: x("05 3ff8000000000000")},
	{name: "double zero", value: 0.0, raw: x("05 0000000000000000")},
	{name: "double NaN", value: math.NaN(), raw: x("05 7ff8000000000001")},
	{name: "empty string", value: "", raw: x("06 01")},
	{name: "string", value: "hello", raw: x("06 0b 'hello'")},
	{
		name:  "repeated string is a reference",
		value: StrictArray{"hello", "hello"},
		raw:   x("09 05 01 06 0b 'hello' 06 00"),
	},
	{
		name:  "empty string is never a reference",
		value: StrictArray{"", ""},
		raw:   x("09 05 01 06 01 06 01"),
	},
	{
		name:  "string table spans values",
		value: seq{"hello", "hello"},
		raw:   x("06 0b 'hello' 06 00"),
	},
	{
		name:  "key and value share the string table",
		value: Object{{"a", "a"}},
		raw:   x("0a 0b 01 03 'a' 06 00 01"),
	},
	{name: "anonymous object", value: Object{{"a", int32(1)}}, raw: x("0a 0b 01 03 'a' 04 01 01")},
	{name: "empty object", value: Object{}, raw: x("0a 0b 01 01")},
	{
		name:  "repeated traits are a reference",
		value: StrictArray{Object{{"a", int32(1)}}, Object{{"a", int32(2)}}},
		raw:   x("09 05 01 0a 0b 01 03 'a' 04 01 01 0a 01 00 04 02 01"),
	},
	{
		name:  "repeated object is a reference",
		value: StrictArray{sharedObject3, sharedObject3},
		raw:   x("09 05 01 0a 0b 01 03 'a' 04 01 01 0a 02"),
	},
	{
		name:  "reference to a nested array",
		value: StrictArray{Object{{"o", sharedInner3}}, sharedInner3},
		raw:   x("09 05 01 0a 0b 01 03 'o' 09 03 01 06 03 'x' 01 09 04"),
	},
	{
		name:  "sealed typed object",
		value: &TypedObject{Class: "Pt", Props: Object{{"x", int32(1)}, {"y", int32(2)}}, Sealed: 2},
		raw:   x("0a 23 05 'Pt' 03 'x' 03 'y' 04 01 04 02"),
	},
	{
		name:  "sealed and dynamic members",
		value: &TypedObject{Class: "Pt", Props: Object{{"x", int32(1)}, {"z", int32(3)}}, Sealed: 1, Dynamic: true},
		raw:   x("0a 1b 05 'Pt' 03 'x' 04 01 03 'z' 04 03 01"),
	},
	{
		name:  "repeated class traits are a reference",
		value: StrictArray{sharedPoint1, sharedPoint2},
		raw:   x("09 05 01 0a 23 05 'Pt' 03 'x' 03 'y' 04 01 04 02 0a 01 04 03 04 04"),
	},
	{
		name:  "repeated typed object is a reference",
		value: StrictArray{sharedPoint1, sharedPoint1},
		raw:   x("09 05 01 0a 23 05 'Pt' 03 'x' 03 'y' 04 01 04 02 0a 02"),
	},
	{
		name:  "anonymous sealed object",
		value: &TypedObject{Props: Object{{"a", int32(1)}}, Sealed: 1},
		raw:   x("0a 13 01 03 'a' 04 01"),
	},
	{
		name:  "dynamic class without sealed members",
		value: &TypedObject{Class: "Foo", Props: Object{{"a", int32(1)}}, Dynamic: true},
		raw:   x("0a 0b 07 'Foo' 03 'a' 04 01 01"),
	},
	{
		name:  "array with associative part",
		value: &Array{Assoc: []Property{{"k", "v"}}, Dense: []any{int32(1)}},
		raw:   x("09 03 03 'k' 06 03 'v' 01 04 01"),
	},
	{name: "empty array", value: StrictArray{}, raw: x("09 01 01")},
	{name: "date", value: Date{Millis: 1700000000000}, raw: x("08 01 4278bcfe56800000")},
	{name: "xml document", value: XMLDocument("<a/>"), raw: x("07 09 '<a/>'")},
	{name: "xml", value: XML("<a/>"), raw: x("0b 09 '<a/>'")},
	{name: "byte array", value: ByteArray{1, 2, 3}, raw: x("0c 07 010203")},
	{name: "empty byte array", value: ByteArray{}, raw: x("0c 01")},
	{
		name:  "repeated byte array is a reference",
		value: StrictArray{sharedByteArray3, sharedByteArray3},
		raw:   x("09 05 01 0c 07 010203 0c 02"),
	},
	{
		name:  "int vector",
		value: &Vector{Kind: VectorInt, Items: []any{int32(1), int32(-1)}},
		raw:   x("0d 05 00 00000001 ffffffff"),
	},
	{
		name:  "fixed uint vector",
		value: &Vector{Kind: VectorUint, Fixed: true, Items: []any{uint32(math.MaxUint32)}},
		raw:   x("0e 03 01 ffffffff"),
	},
	{
		name:  "double vector",
		value: &Vector{Kind: VectorDouble, Items: []any{0.5}},
		raw:   x("0f 03 00 3fe0000000000000"),
	},
	{
		name:  "object vector",
		value: &Vector{Kind: VectorObject, TypeName: "Foo", Items: []any{"a", nil}},
		raw:   x("10 05 00 07 'Foo' 06 03 'a' 01"),
	},
	{
		name:  "dictionary",
		value: &Dictionary{Entries: []DictEntry{{Key: "k", Value: int32(1)}}},
		raw:   x("11 03 00 06 03 'k' 04 01"),
	},
	{
		name:  "weak dictionary with object key",
		value: &Dictionary{WeakKeys: true, Entries: []DictEntry{{Key: Object{}, Value: true}}},
		raw:   x("11 03 01 0a 0b 01 01 03"),
	},

	// Decode only: the encoder writes these values differently.
	{
		name:  "repeated date is a reference",
		value: StrictArray{sharedDate3, sharedDate3},
		raw:   x("09 05 01 08 01 3fe0000000000000 08 02"),
		only:  decodeOnly,
	},
	{
		name:  "repeated xml is a reference",
		value: StrictArray{XML("<a/>"), XML("<a/>")},
		raw:   x("09 05 01 0b 09 '<a/>' 0b 02"),
		only:  decodeOnly,
	},
	{name: "non-minimal integer", value: int32(0), raw: x("04 8000"), only: decodeOnly},
	{
		name:  "vector fixed byte 2 is fixed",
		value: &Vector{Kind: VectorInt, Fixed: true, Items: []any{}},
		raw:   x("0d 01 02"),
		only:  decodeOnly,
	},

	// Encode only: Go conveniences and types that decode as something else.
	{name: "int32 out of range as double", value: int32(300000000), raw: x("05 41b1e1a300000000"), only: encodeOnly},
	{name: "int as integer", value: 5, raw: x("04 05"), only: encodeOnly},
	{name: "int64 as integer", value: int64(-1), raw: x("04 ffffffff"), only: encodeOnly},
	{name: "uint32 as integer", value: uint32(7), raw: x("04 07"), only: encodeOnly},
	{name: "float32 as double", value: float32(1.5), raw: x("05 3ff8000000000000"), only: encodeOnly},
	{
		name:  "map as object with sorted keys",
		value: map[string]any{"b": true, "a": false},
		raw:   x("0a 0b 01 03 'a' 02 03 'b' 03 01"),
		only:  encodeOnly,
	},
	{name: "slice as array", value: []any{"x"}, raw: x("09 03 01 06 03 'x'"), only: encodeOnly},
	{name: "bytes as byte array", value: []byte{9}, raw: x("0c 03 09"), only: encodeOnly},
	{name: "time as date", value: time.UnixMilli(1700000000000), raw: x("08 01 4278bcfe56800000"), only: encodeOnly},
	{
		name:  "ecma array as associative array",
		value: ECMAArray{{"k", int32(1)}},
		raw:   x("09 01 03 'k' 04 01 01"),
		only:  encodeOnly,
	},
	{
		name:  "array without associative part",
		value: &Array{Dense: []any{int32(1)}},
		raw:   x("09 03 01 04 01"),
		only:  encodeOnly,
	},
	{
		name:  "non-dynamic typed object with extra properties becomes dynamic",
		value: &TypedObject{Class: "Foo", Props: Object{{"a", nil}}},
		raw:   x("0a 0b 07 'Foo' 03 'a' 01 01"),
		only:  encodeOnly,
	},
}

func TestAMF3Decode(t *testing.T) { testDecode(t, amf3Cases, Unmarshal3) }

func TestAMF3Encode(t *testing.T) { testEncode(t, amf3Cases, Marshal3) }

func TestAMF3Truncated(t *testing.T) { testTruncated(t, amf3Cases, NewDecoder3) }

func TestAMF3DecodedReferencesShareValues(t *testing.T) {
	vs, err := Unmarshal3(x("09 05 01 0a 0b 01 03 'a' 04 01 01 0a 02"))
	if err != nil {
		t.Fatalf("Unmarshal3: %v", err)
	}
	arr := vs[0].(StrictArray)
	a, b := arr[0].(Object), arr[1].(Object)
	if &a[0] != &b[0] {
		t.Errorf("an object and a reference to it decode to different slices")
	}
	// Re-encoding the decoded value writes the reference again.
	raw, err := Marshal3(vs...)
	if err != nil {
		t.Fatalf("Marshal3: %v", err)
	}
	if want := x("09 05 01 0a 0b 01 03 'a' 04 01 01 0a 02"); string(raw) != string(want) {
		t.Errorf("Marshal3(decoded) = % x, want % x", raw, want)
	}
}

func TestAMF3EncoderReset(t *testing.T) {
	e := NewEncoder3(nil)
	if err := e.Encode("hello"); err != nil {
		t.Fatalf("Encode: %v", err)
	}
	e.Reset(e.Bytes()[:0])
	if err := e.Encode("hello"); err != nil {
		t.Fatalf("Encode after Reset: %v", err)
	}
	if want := x("06 0b 'hello'"); string(e.Bytes()) != string(want) {
		t.Errorf("after Reset, Encode(hello) = % x, want % x (no reference)", e.Bytes(), want)
	}
}

func FuzzDecode3(f *testing.F) {
	for _, tc := range amf3Cases {
		if len(tc.raw) <= maxSeedLen {
			f.Add(tc.raw)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkRoundTrip(t, b, NewDecoder3, Marshal3) })
}
