package console

import (
	"strconv"
	"strings"
	"time"

	"github.com/shoal-live/shoal/internal/rtmp/amf"
)

// Limits of the text that shows one attribute value.
const (
	maxValueText  = 2000
	maxValueDepth = 8
)

// describe returns the AMF type of v and a readable, JavaScript-like text
// of it, cut at maxValueText characters.
func describe(v any) (typ, text string) {
	var b strings.Builder
	writeValue(&b, v, 0)
	text = b.String()
	if len(text) > maxValueText {
		text = strings.ToValidUTF8(text[:maxValueText], "") + "…"
	}
	return typeName(v), text
}

func typeName(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case amf.Undefined:
		return "undefined"
	case bool:
		return "boolean"
	case float64, int32:
		return "number"
	case string:
		return "string"
	case amf.Object, amf.ECMAArray:
		return "object"
	case *amf.TypedObject:
		return x.Class
	case amf.StrictArray, *amf.Array, []any:
		return "array"
	case amf.Date:
		return "date"
	case amf.XML, amf.XMLDocument:
		return "xml"
	case amf.ByteArray:
		return "bytearray"
	case *amf.Vector:
		return "vector"
	case *amf.Dictionary:
		return "dictionary"
	default:
		return "unknown"
	}
}

func writeValue(b *strings.Builder, v any, depth int) {
	if b.Len() > maxValueText {
		return
	}
	if depth > maxValueDepth {
		b.WriteString("…")
		return
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case amf.Undefined:
		b.WriteString("undefined")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case float64:
		b.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
	case int32:
		b.WriteString(strconv.FormatInt(int64(x), 10))
	case string:
		writeString(b, x)
	case amf.XML:
		writeString(b, string(x))
	case amf.XMLDocument:
		writeString(b, string(x))
	case amf.Object:
		writeProps(b, "", x, depth)
	case amf.ECMAArray:
		writeProps(b, "", amf.Object(x), depth)
	case *amf.TypedObject:
		writeProps(b, x.Class, x.Props, depth)
	case amf.StrictArray:
		writeList(b, x, depth)
	case []any:
		writeList(b, x, depth)
	case *amf.Array:
		writeList(b, x.Dense, depth)
		if len(x.Assoc) > 0 {
			b.WriteString(" + ")
			writeProps(b, "", amf.Object(x.Assoc), depth)
		}
	case *amf.Vector:
		writeList(b, x.Items, depth)
	case amf.Date:
		b.WriteString(x.Time().Format(time.RFC3339Nano))
	case amf.ByteArray:
		b.WriteString("<" + strconv.Itoa(len(x)) + " bytes>")
	case *amf.Dictionary:
		b.WriteString("Dictionary{")
		for i, e := range x.Entries {
			if i > 0 {
				b.WriteString(", ")
			}
			writeValue(b, e.Key, depth+1)
			b.WriteString(": ")
			writeValue(b, e.Value, depth+1)
		}
		b.WriteString("}")
	default:
		b.WriteString("?")
	}
}

func writeString(b *strings.Builder, s string) {
	b.WriteString(strconv.Quote(s))
}

func writeProps(b *strings.Builder, class string, props amf.Object, depth int) {
	b.WriteString(class)
	b.WriteString("{")
	for i, p := range props {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p.Key)
		b.WriteString(": ")
		writeValue(b, p.Value, depth+1)
	}
	b.WriteString("}")
}

func writeList(b *strings.Builder, items []any, depth int) {
	b.WriteString("[")
	for i, it := range items {
		if i > 0 {
			b.WriteString(", ")
		}
		writeValue(b, it, depth+1)
	}
	b.WriteString("]")
}
