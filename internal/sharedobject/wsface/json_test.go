package wsface

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shoal-live/shoal/internal/rtmp/amf"
	"github.com/shoal-live/shoal/internal/rtmp/somsg"
)

// jsonCases map AMF values to their JSON form. Decoding the JSON gives the
// AMF value back (numbers become float64, typed objects stay dynamic).
var jsonCases = []struct {
	name string
	amf  any
	json string
}{
	{"null", nil, `null`},
	{"true", true, `true`},
	{"number", 1.5, `1.5`},
	{"string", "hé\"llo", `"hé\"llo"`},
	{"object keeps order", amf.Object{{Key: "y", Value: 2.0}, {Key: "x", Value: 1.0}}, `{"y":2,"x":1}`},
	{"nested", amf.Object{{Key: "a", Value: amf.StrictArray{1.0, "b", nil, amf.Object{}}}}, `{"a":[1,"b",null,{}]}`},
	{"date", amf.Date{Millis: 1700000000000}, `{"$date":1700000000000}`},
	{"bytes", amf.ByteArray{0, 1, 255}, `{"$bytes":"AAH/"}`},
	{"typed", &amf.TypedObject{Class: "Pt", Props: amf.Object{{Key: "x", Value: 1.0}}, Dynamic: true}, `{"$class":"Pt","x":1}`},
	{"nan", math.Inf(-1), `{"$number":"-Infinity"}`},
}

func TestJSONMapping(t *testing.T) {
	for _, tc := range jsonCases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := appendJSON(nil, tc.amf)
			if err != nil {
				t.Fatalf("appendJSON: %v", err)
			}
			if string(b) != tc.json {
				t.Errorf("appendJSON(%v) = %s, want %s", tc.amf, b, tc.json)
			}
			v, err := decodeJSON([]byte(tc.json))
			if err != nil {
				t.Fatalf("decodeJSON: %v", err)
			}
			if !amf.Equal(v, tc.amf) {
				t.Errorf("decodeJSON(%s) = %#v, want %#v", tc.json, v, tc.amf)
			}
		})
	}
}

func TestJSONOneWay(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want string
	}{
		{int32(7), `7`},
		{amf.Undefined{}, `null`},
		{amf.ECMAArray{{Key: "k", Value: "v"}}, `{"k":"v"}`},
		{&amf.Array{Assoc: []amf.Property{{Key: "k", Value: 1.0}}, Dense: []any{2.0}}, `{"k":1,"$dense":[2]}`},
		{math.NaN(), `{"$number":"NaN"}`},
	} {
		b, err := appendJSON(nil, tc.in)
		if err != nil || string(b) != tc.want {
			t.Errorf("appendJSON(%#v) = %s, %v; want %s", tc.in, b, err, tc.want)
		}
	}
}

func TestParseRequest(t *testing.T) {
	r, err := parseRequest([]byte(`{"op":"update","name":"o","set":{"b":1,"a":{"x":2}},"remove":["c"]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []somsg.Event{
		{Type: somsg.RequestChange, Key: "b", Value: 1.0},
		{Type: somsg.RequestChange, Key: "a", Value: amf.Object{{Key: "x", Value: 2.0}}},
		{Type: somsg.RequestRemove, Key: "c"},
	}
	if diff := cmp.Diff(want, r.reqs); diff != "" {
		t.Errorf("update requests (-want +got):\n%s", diff)
	}
	bad := map[string]string{
		`{"op":"set","name":"o"}`:                      "set: key is required",
		`{"op":"send","name":"o"}`:                     "send: handler is required",
		`{"op":"update","name":"o","set":[1]}`:         "update: set must be an object",
		`{"op":"update","name":"o"}`:                   "update: nothing to set or remove",
		`{"op":"use"}`:                                 "use: name is required",
		`{"op":"jump","name":"o"}`:                     `unknown op "jump"`,
		`{"op":"set","name":"o","key":"k","value":01}`: "bad frame",
	}
	for in, want := range bad {
		if _, err := parseRequest([]byte(in)); err == nil || !contains(err.Error(), want) {
			t.Errorf("parseRequest(%s) = %v, want an error containing %q", in, err, want)
		}
	}
	deep := make([]byte, 0, 2*maxDepth+40)
	deep = append(deep, `{"op":"set","name":"o","key":"k","value":`...)
	for range maxDepth + 2 {
		deep = append(deep, '[')
	}
	for range maxDepth + 2 {
		deep = append(deep, ']')
	}
	deep = append(deep, '}')
	if _, err := parseRequest(deep); err == nil || !contains(err.Error(), "too deep") {
		t.Errorf("deep value: %v, want too deep", err)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// FuzzParseRequest checks that no frame crashes the decoder and that every
// value it accepts maps back to JSON.
func FuzzParseRequest(f *testing.F) {
	for _, tc := range jsonCases {
		f.Add([]byte(`{"op":"set","name":"o","key":"k","value":` + tc.json + `}`))
	}
	f.Add([]byte(`{"op":"send","name":"o","handler":"h","args":[1,"a",{"$date":5}]}`))
	f.Add([]byte(`{"op":"update","name":"o","set":{"a":1},"remove":["b"]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseRequest(b)
		if err != nil {
			return
		}
		for _, q := range r.reqs {
			if _, err := appendJSON(nil, q.Value); err != nil {
				t.Fatalf("accepted value %#v does not map back: %v", q.Value, err)
			}
			if _, err := appendJSON(nil, amf.StrictArray(q.Args)); err != nil {
				t.Fatalf("accepted args %#v do not map back: %v", q.Args, err)
			}
		}
	})
}
