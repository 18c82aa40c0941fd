package amf

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"time"
)

// AMF0 type markers.
const (
	marker0Number      = 0x00
	marker0Boolean     = 0x01
	marker0String      = 0x02
	marker0Object      = 0x03
	marker0MovieClip   = 0x04
	marker0Null        = 0x05
	marker0Undefined   = 0x06
	marker0Reference   = 0x07
	marker0ECMAArray   = 0x08
	marker0ObjectEnd   = 0x09
	marker0StrictArray = 0x0a
	marker0Date        = 0x0b
	marker0LongString  = 0x0c
	marker0Unsupported = 0x0d
	marker0RecordSet   = 0x0e
	marker0XMLDocument = 0x0f
	marker0TypedObject = 0x10
	marker0AVMPlus     = 0x11
)

var marker0Names = [...]string{
	marker0Number:      "number",
	marker0Boolean:     "boolean",
	marker0String:      "string",
	marker0Object:      "object",
	marker0MovieClip:   "movieclip",
	marker0Null:        "null",
	marker0Undefined:   "undefined",
	marker0Reference:   "reference",
	marker0ECMAArray:   "ecma array",
	marker0ObjectEnd:   "object end",
	marker0StrictArray: "strict array",
	marker0Date:        "date",
	marker0LongString:  "long string",
	marker0Unsupported: "unsupported",
	marker0RecordSet:   "recordset",
	marker0XMLDocument: "xml document",
	marker0TypedObject: "typed object",
	marker0AVMPlus:     "avmplus value",
}

func marker0Name(m byte) string {
	if int(m) < len(marker0Names) {
		return marker0Names[m]
	}
	return "value"
}

// readValue0 reads one AMF0 value at nesting level depth.
func (d *Decoder) readValue0(depth int) (any, error) {
	if err := d.count(1); err != nil {
		return nil, err
	}
	m, err := d.readU8()
	if err != nil {
		return nil, err
	}
	switch m {
	case marker0Number:
		f, err := d.readF64()
		if err != nil {
			return nil, err
		}
		return boxNumber(f), nil
	case marker0Boolean:
		c, err := d.readU8()
		return c != 0, err
	case marker0String:
		return d.readUTF8()
	case marker0Object:
		return d.readObject0(depth, m)
	case marker0Null:
		return nil, nil
	case marker0Undefined, marker0Unsupported:
		return Undefined{}, nil
	case marker0Reference:
		i, err := d.readU16()
		if err != nil {
			return nil, err
		}
		e, err := d.resolve(d.refs0, int(i))
		if err != nil {
			return nil, err
		}
		return d.expand(e, depth)
	case marker0ECMAArray:
		return d.readObject0(depth, m)
	case marker0StrictArray:
		return d.readStrictArray0(depth)
	case marker0Date:
		ms, err := d.readF64()
		if err != nil {
			return nil, err
		}
		if _, err := d.readU16(); err != nil { // time zone, ignored
			return nil, err
		}
		return Date{Millis: ms}, nil
	case marker0LongString:
		n, err := d.readU32()
		if err != nil {
			return nil, err
		}
		return d.readStr(uint64(n))
	case marker0XMLDocument:
		n, err := d.readU32()
		if err != nil {
			return nil, err
		}
		s, err := d.readStr(uint64(n))
		return XMLDocument(s), err
	case marker0TypedObject:
		return d.readObject0(depth, m)
	case marker0AVMPlus:
		return d.readValue3(depth)
	case marker0MovieClip, marker0RecordSet:
		return nil, fmt.Errorf("reserved %s marker 0x%02x: %w", marker0Names[m], m, ErrUnknownMarker)
	case marker0ObjectEnd:
		return nil, fmt.Errorf("object end marker 0x09 outside an object: %w", ErrUnknownMarker)
	default:
		return nil, fmt.Errorf("marker 0x%02x: %w", m, ErrUnknownMarker)
	}
}

// readObject0 reads an anonymous object, ECMA array or typed object whose
// marker m has been read.
func (d *Decoder) readObject0(depth int, m byte) (any, error) {
	f, err := d.enter(depth)
	if err != nil {
		return nil, err
	}
	idx := len(d.refs0)
	d.refs0 = append(d.refs0, entry{})
	what := "object"
	var class string
	switch m {
	case marker0ECMAArray:
		what = "ecma array"
		if _, err := d.readU32(); err != nil { // count hint; the end marker ends the array
			return nil, err
		}
	case marker0TypedObject:
		off := d.off
		if class, err = d.readUTF8(); err != nil {
			return nil, d.wrap(err, off, codec0, "typed object class name")
		}
		what = "typed object " + strconv.Quote(class)
	}
	start := len(d.scratch)
	for {
		off := d.off
		key, err := d.readUTF8()
		if err != nil {
			return nil, d.wrap(err, off, codec0, what+" key")
		}
		if key == "" && d.off < len(d.b) && d.b[d.off] == marker0ObjectEnd {
			d.off++
			break
		}
		off = d.off
		v, err := d.readValue0(depth + 1)
		if err == nil {
			err = d.pushProp(start, key, v)
		}
		if err != nil {
			return nil, d.wrap(err, off, codec0, what+" property "+strconv.Quote(key))
		}
	}
	props := d.takeScratch(start)
	var v any
	switch m {
	case marker0ECMAArray:
		v = ECMAArray(props)
	case marker0TypedObject:
		v = &TypedObject{Class: class, Props: props}
	default:
		v = Object(props)
	}
	d.refs0[idx] = d.leave(f, depth, v, m)
	return v, nil
}

func (d *Decoder) readStrictArray0(depth int) (any, error) {
	f, err := d.enter(depth)
	if err != nil {
		return nil, err
	}
	n, err := d.readU32()
	if err != nil {
		return nil, err
	}
	if err := d.checkCount(uint64(n), 1); err != nil {
		return nil, err
	}
	idx := len(d.refs0)
	d.refs0 = append(d.refs0, entry{})
	items := make(StrictArray, n)
	for i := range items {
		off := d.off
		if items[i], err = d.readValue0(depth + 1); err != nil {
			return nil, d.wrap(err, off, codec0, "strict array item "+strconv.Itoa(i))
		}
	}
	d.refs0[idx] = d.leave(f, depth, items, marker0StrictArray)
	return items, nil
}

func appendUTF8(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func (e *Encoder) number0(f float64) {
	e.buf = append(e.buf, marker0Number)
	e.buf = binary.BigEndian.AppendUint64(e.buf, math.Float64bits(f))
}

func (e *Encoder) encode0(v any) error {
	switch v := v.(type) {
	case nil:
		e.buf = append(e.buf, marker0Null)
	case Undefined:
		e.buf = append(e.buf, marker0Undefined)
	case bool:
		b := byte(0)
		if v {
			b = 1
		}
		e.buf = append(e.buf, marker0Boolean, b)
	case float64:
		e.number0(v)
	case string:
		return e.string0(v)
	case Object:
		return e.object0(marker0Object, "", v)
	case *TypedObject:
		if v == nil {
			e.buf = append(e.buf, marker0Null)
			return nil
		}
		if v.Class == "" {
			return e.object0(marker0Object, "", v.Props)
		}
		return e.object0(marker0TypedObject, v.Class, v.Props)
	case ECMAArray:
		return e.object0(marker0ECMAArray, "", v)
	case StrictArray:
		return e.strictArray0(v)
	case []any:
		return e.strictArray0(v)
	case Date:
		e.date0(v.Millis)
	case time.Time:
		e.date0(DateOf(v).Millis)
	case XMLDocument:
		if uint64(len(v)) > math.MaxUint32 {
			return fmt.Errorf("xml document of %d bytes: %w", len(v), ErrTooLong)
		}
		e.buf = append(e.buf, marker0XMLDocument)
		e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(len(v)))
		e.buf = append(e.buf, v...)
	case map[string]any:
		return e.object0(marker0Object, "", sortedProps(v))
	case *Array, XML, ByteArray, *Vector, *Dictionary:
		return e.switch3(v)
	case []byte:
		return fmt.Errorf("cannot encode Go type []byte in amf0 (use ByteArray for an amf3 byte array): %w", ErrUnsupported)
	default:
		if f, ok := goNumber(v); ok {
			e.number0(f)
			return nil
		}
		return fmt.Errorf("cannot encode Go type %T: %w", v, ErrUnsupported)
	}
	return nil
}

func (e *Encoder) string0(s string) error {
	switch {
	case len(s) <= math.MaxUint16:
		e.buf = append(e.buf, marker0String)
		e.buf = appendUTF8(e.buf, s)
	case uint64(len(s)) <= math.MaxUint32:
		e.buf = append(e.buf, marker0LongString)
		e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(len(s)))
		e.buf = append(e.buf, s...)
	default:
		return fmt.Errorf("string of %d bytes: %w", len(s), ErrTooLong)
	}
	return nil
}

func (e *Encoder) date0(ms float64) {
	e.buf = append(e.buf, marker0Date)
	e.buf = binary.BigEndian.AppendUint64(e.buf, math.Float64bits(ms))
	e.buf = append(e.buf, 0, 0) // time zone
}

// switch3 writes v as marker 0x11 and an AMF3 value without references.
func (e *Encoder) switch3(v any) error {
	e.buf = append(e.buf, marker0AVMPlus)
	saved := e.noRefs
	e.noRefs = true
	err := e.encode3(v)
	e.noRefs = saved
	return err
}

// object0 writes an anonymous object, typed object or ECMA array. Objects
// with a key or class name too long for AMF0 are written as AMF3.
func (e *Encoder) object0(m byte, class string, props []Property) error {
	if !fits0(class, props) {
		if m == marker0ECMAArray {
			return e.switch3(ECMAArray(props))
		}
		return e.switch3(&TypedObject{Class: class, Props: props, Dynamic: true})
	}
	if err := e.push(); err != nil {
		return err
	}
	e.buf = append(e.buf, m)
	switch m {
	case marker0TypedObject:
		e.buf = appendUTF8(e.buf, class)
	case marker0ECMAArray:
		e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(len(props)))
	}
	for _, p := range props {
		e.buf = appendUTF8(e.buf, p.Key)
		if err := e.encode0(p.Value); err != nil {
			return fmt.Errorf("property %q: %w", p.Key, err)
		}
	}
	e.buf = append(e.buf, 0, 0, marker0ObjectEnd)
	e.depth--
	return nil
}

func fits0(class string, props []Property) bool {
	if len(class) > math.MaxUint16 {
		return false
	}
	for _, p := range props {
		if len(p.Key) > math.MaxUint16 {
			return false
		}
	}
	return true
}

func (e *Encoder) strictArray0(items []any) error {
	if uint64(len(items)) > math.MaxUint32 {
		return fmt.Errorf("strict array of %d items: %w", len(items), ErrTooMany)
	}
	if err := e.push(); err != nil {
		return err
	}
	e.buf = append(e.buf, marker0StrictArray)
	e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(len(items)))
	for i, v := range items {
		if err := e.encode0(v); err != nil {
			return fmt.Errorf("strict array item %d: %w", i, err)
		}
	}
	e.depth--
	return nil
}
