package wsface

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/shoal-live/shoal/internal/rtmp/amf"
)

// Value mapping between AMF and JSON (documented in docs/shared-objects-websocket.md):
//
//	AMF                          JSON
//	null, undefined              null
//	boolean                      true / false
//	number, integer              number (NaN and ±Inf as {"$number": "NaN"|"Infinity"|"-Infinity"})
//	string, XML                  string
//	object, ECMA array           object, keys in order
//	typed object                 object with "$class": "Name" first
//	strict/dense array           array
//	AMF3 array with assoc part   object of the associative part plus "$dense": [...]
//	date                         {"$date": milliseconds since the epoch}
//	ByteArray                    {"$bytes": "base64"}
//	vector                       array
//	dictionary                   {"$dict": [[key, value], ...]}

// ErrTooDeep is returned for JSON values nested deeper than maxDepth.
var ErrTooDeep = errors.New("value nested too deep")

const maxDepth = 64

// appendJSON appends the JSON form of the AMF value v to dst.
func appendJSON(dst []byte, v any) ([]byte, error) { return appendValue(dst, v, 0) }

func appendValue(dst []byte, v any, depth int) ([]byte, error) {
	if depth > maxDepth {
		return dst, ErrTooDeep
	}
	var err error
	switch x := v.(type) {
	case nil, amf.Undefined:
		return append(dst, "null"...), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case float64:
		return appendNumber(dst, x), nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case string:
		return appendString(dst, x), nil
	case amf.XML:
		return appendString(dst, string(x)), nil
	case amf.XMLDocument:
		return appendString(dst, string(x)), nil
	case amf.Object:
		return appendProps(dst, "", x, nil, depth)
	case amf.ECMAArray:
		return appendProps(dst, "", amf.Object(x), nil, depth)
	case *amf.TypedObject:
		return appendProps(dst, x.Class, x.Props, nil, depth)
	case *amf.Array:
		return appendProps(dst, "", amf.Object(x.Assoc), x.Dense, depth)
	case amf.StrictArray:
		return appendList(dst, x, depth)
	case []any:
		return appendList(dst, x, depth)
	case *amf.Vector:
		return appendList(dst, x.Items, depth)
	case amf.Date:
		dst = append(dst, `{"$date":`...)
		dst = appendNumber(dst, x.Millis)
		return append(dst, '}'), nil
	case amf.ByteArray:
		dst = append(dst, `{"$bytes":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, x)
		return append(dst, `"}`...), nil
	case *amf.Dictionary:
		dst = append(dst, `{"$dict":[`...)
		for i, e := range x.Entries {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, '[')
			if dst, err = appendValue(dst, e.Key, depth+1); err != nil {
				return dst, err
			}
			dst = append(dst, ',')
			if dst, err = appendValue(dst, e.Value, depth+1); err != nil {
				return dst, err
			}
			dst = append(dst, ']')
		}
		return append(dst, "]}"...), nil
	default:
		return dst, fmt.Errorf("cannot map %T to JSON", v)
	}
}

func appendNumber(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `{"$number":"NaN"}`...)
	case math.IsInf(f, 1):
		return append(dst, `{"$number":"Infinity"}`...)
	case math.IsInf(f, -1):
		return append(dst, `{"$number":"-Infinity"}`...)
	}
	// As encoding/json: plain notation unless very small or very large.
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		return strconv.AppendFloat(dst, f, 'e', -1, 64)
	}
	return strconv.AppendFloat(dst, f, 'f', -1, 64)
}

func appendString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // cannot fail for a string
	return append(dst, b...)
}

func appendProps(dst []byte, class string, props amf.Object, dense []any, depth int) ([]byte, error) {
	var err error
	dst = append(dst, '{')
	n := 0
	if class != "" {
		dst = append(dst, `"$class":`...)
		dst = appendString(dst, class)
		n++
	}
	for _, p := range props {
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, p.Key)
		dst = append(dst, ':')
		if dst, err = appendValue(dst, p.Value, depth+1); err != nil {
			return dst, err
		}
		n++
	}
	if dense != nil {
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `"$dense":`...)
		if dst, err = appendList(dst, dense, depth+1); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

func appendList(dst []byte, items []any, depth int) ([]byte, error) {
	var err error
	dst = append(dst, '[')
	for i, it := range items {
		if i > 0 {
			dst = append(dst, ',')
		}
		if dst, err = appendValue(dst, it, depth+1); err != nil {
			return dst, err
		}
	}
	return append(dst, ']'), nil
}

// decodeJSON reads one JSON value as an AMF value, keeping object key
// order. Numbers become float64.
func decodeJSON(raw []byte) (any, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	v, err := decodeValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data after value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxDepth {
		return nil, ErrTooDeep
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case nil:
		return nil, nil
	case bool:
		return t, nil
	case string:
		return t, nil
	case json.Number:
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil {
			return nil, fmt.Errorf("number %s: %w", t, err)
		}
		return f, nil
	case json.Delim:
		switch t {
		case '[':
			list := amf.StrictArray{}
			for dec.More() {
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return list, nil
		case '{':
			return decodeObject(dec, depth)
		}
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

func decodeObject(dec *json.Decoder, depth int) (any, error) {
	obj := amf.Object{}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := kt.(string)
		if !ok {
			return nil, fmt.Errorf("object key %v is not a string", kt)
		}
		v, err := decodeValue(dec, depth+1)
		if err != nil {
			return nil, fmt.Errorf("property %q: %w", key, err)
		}
		obj = append(obj, amf.Property{Key: key, Value: v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	return special(obj)
}

// special turns the $-forms back into their AMF types.
func special(obj amf.Object) (any, error) {
	if len(obj) == 0 || obj[0].Key == "" || obj[0].Key[0] != '$' {
		return obj, nil
	}
	first := obj[0]
	switch first.Key {
	case "$date":
		if ms, ok := first.Value.(float64); ok && len(obj) == 1 {
			return amf.Date{Millis: ms}, nil
		}
		return nil, errors.New(`"$date" must be the only key and a number of milliseconds`)
	case "$bytes":
		s, ok := first.Value.(string)
		if !ok || len(obj) != 1 {
			return nil, errors.New(`"$bytes" must be the only key and a base64 string`)
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf(`"$bytes": %w`, err)
		}
		return amf.ByteArray(b), nil
	case "$number":
		s, _ := first.Value.(string)
		switch s {
		case "NaN":
			return math.NaN(), nil
		case "Infinity":
			return math.Inf(1), nil
		case "-Infinity":
			return math.Inf(-1), nil
		}
		return nil, fmt.Errorf(`"$number": %q is not NaN, Infinity or -Infinity`, s)
	case "$class":
		class, ok := first.Value.(string)
		if !ok {
			return nil, errors.New(`"$class" must be a string`)
		}
		return &amf.TypedObject{Class: class, Props: obj[1:], Dynamic: true}, nil
	}
	return obj, nil
}
