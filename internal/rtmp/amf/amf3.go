package amf

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
)

// AMF3 type markers.
const (
	marker3Undefined    = 0x00
	marker3Null         = 0x01
	marker3False        = 0x02
	marker3True         = 0x03
	marker3Integer      = 0x04
	marker3Double       = 0x05
	marker3String       = 0x06
	marker3XMLDocument  = 0x07
	marker3Date         = 0x08
	marker3Array        = 0x09
	marker3Object       = 0x0a
	marker3XML          = 0x0b
	marker3ByteArray    = 0x0c
	marker3VectorInt    = 0x0d
	marker3VectorUint   = 0x0e
	marker3VectorDouble = 0x0f
	marker3VectorObject = 0x10
	marker3Dictionary   = 0x11
)

var marker3Names = [...]string{
	marker3Undefined:    "undefined",
	marker3Null:         "null",
	marker3False:        "false",
	marker3True:         "true",
	marker3Integer:      "integer",
	marker3Double:       "double",
	marker3String:       "string",
	marker3XMLDocument:  "xml document",
	marker3Date:         "date",
	marker3Array:        "array",
	marker3Object:       "object",
	marker3XML:          "xml",
	marker3ByteArray:    "byte array",
	marker3VectorInt:    "int vector",
	marker3VectorUint:   "uint vector",
	marker3VectorDouble: "double vector",
	marker3VectorObject: "object vector",
	marker3Dictionary:   "dictionary",
}

func marker3Name(m byte) string {
	if int(m) < len(marker3Names) {
		return marker3Names[m]
	}
	return "value"
}

// U29 limits.
const (
	maxU29    = 1<<29 - 1
	minInt29  = -1 << 28
	maxInt29  = 1<<28 - 1
	maxLenU29 = maxU29 >> 1 // longest length or highest index a U29 carries
)

// readU29 reads a variable-length unsigned 29-bit integer.
func (d *Decoder) readU29() (uint32, error) {
	var v uint32
	for range 3 {
		c, err := d.readU8()
		if err != nil {
			return 0, err
		}
		if c < 0x80 {
			return v<<7 | uint32(c), nil
		}
		v = v<<7 | uint32(c&0x7f)
	}
	c, err := d.readU8()
	if err != nil {
		return 0, err
	}
	return v<<8 | uint32(c), nil
}

// readValue3 reads one AMF3 value at nesting level depth.
func (d *Decoder) readValue3(depth int) (any, error) {
	if err := d.count(1); err != nil {
		return nil, err
	}
	m, err := d.readU8()
	if err != nil {
		return nil, err
	}
	switch m {
	case marker3Undefined:
		return Undefined{}, nil
	case marker3Null:
		return nil, nil
	case marker3False:
		return false, nil
	case marker3True:
		return true, nil
	case marker3Integer:
		u, err := d.readU29()
		if err != nil {
			return nil, err
		}
		return int32(u<<3) >> 3, nil // sign-extend 29 bits
	case marker3Double:
		f, err := d.readF64()
		if err != nil {
			return nil, err
		}
		return boxNumber(f), nil
	case marker3String:
		return d.readString3()
	case marker3XMLDocument, marker3XML, marker3ByteArray:
		return d.readBytes3(depth, m)
	case marker3Date:
		return d.readDate3(depth)
	case marker3Array:
		return d.readArray3(depth)
	case marker3Object:
		return d.readObject3(depth)
	case marker3VectorInt, marker3VectorUint, marker3VectorDouble, marker3VectorObject:
		return d.readVector3(depth, m)
	case marker3Dictionary:
		return d.readDictionary3(depth)
	default:
		return nil, fmt.Errorf("marker 0x%02x: %w", m, ErrUnknownMarker)
	}
}

// readString3 reads a UTF-8-vr: an inline string or a string reference.
func (d *Decoder) readString3() (string, error) {
	u, err := d.readU29()
	if err != nil {
		return "", err
	}
	if u&1 == 0 {
		i := int(u >> 1)
		if i >= len(d.strs) {
			return "", fmt.Errorf("string reference %d with %d strings in the table: %w", i, len(d.strs), ErrBadReference)
		}
		s := d.strs[i]
		return s, d.count(len(s) >> 4)
	}
	s, err := d.readStr(uint64(u >> 1))
	if err != nil {
		return "", err
	}
	if s != "" {
		d.strs = append(d.strs, s)
	}
	return s, nil
}

// objRef3 resolves the object reference in header u of a value with marker m.
func (d *Decoder) objRef3(u uint32, depth int, m byte) (any, error) {
	e, err := d.resolve(d.objs, int(u>>1))
	if err != nil {
		return nil, err
	}
	if e.marker != m {
		return nil, fmt.Errorf("%s reference %d points to %s value: %w",
			marker3Name(m), u>>1, marker3Name(e.marker), ErrBadReference)
	}
	return d.expand(e, depth)
}

// readBytes3 reads an XMLDocument, XML or ByteArray whose marker m has been
// read.
func (d *Decoder) readBytes3(depth int, m byte) (any, error) {
	u, err := d.readU29()
	if err != nil {
		return nil, err
	}
	if u&1 == 0 {
		return d.objRef3(u, depth, m)
	}
	var v any
	if m == marker3ByteArray {
		b, err := d.take(uint64(u >> 1))
		if err != nil {
			return nil, err
		}
		v = ByteArray(append([]byte(nil), b...))
	} else {
		s, err := d.readStr(uint64(u >> 1))
		if err != nil {
			return nil, err
		}
		if m == marker3XML {
			v = XML(s)
		} else {
			v = XMLDocument(s)
		}
	}
	d.objs = append(d.objs, entry{v: v, height: -1, marker: m, done: true})
	return v, nil
}

func (d *Decoder) readDate3(depth int) (any, error) {
	u, err := d.readU29()
	if err != nil {
		return nil, err
	}
	if u&1 == 0 {
		return d.objRef3(u, depth, marker3Date)
	}
	ms, err := d.readF64()
	if err != nil {
		return nil, err
	}
	v := Date{Millis: ms}
	d.objs = append(d.objs, entry{v: v, height: -1, marker: marker3Date, done: true})
	return v, nil
}

func (d *Decoder) readArray3(depth int) (any, error) {
	u, err := d.readU29()
	if err != nil {
		return nil, err
	}
	if u&1 == 0 {
		return d.objRef3(u, depth, marker3Array)
	}
	f, err := d.enter(depth)
	if err != nil {
		return nil, err
	}
	idx := len(d.objs)
	d.objs = append(d.objs, entry{})
	start := len(d.scratch)
	if err := d.readDynamic3(start, depth, "array"); err != nil {
		return nil, err
	}
	n := u >> 1
	if err := d.checkCount(uint64(n), 1); err != nil {
		return nil, err
	}
	dense := make([]any, n)
	for i := range dense {
		off := d.off
		if dense[i], err = d.readValue3(depth + 1); err != nil {
			return nil, d.wrap(err, off, codec3, "array item "+strconv.Itoa(i))
		}
	}
	var v any = StrictArray(dense)
	if len(d.scratch) > start {
		v = &Array{Assoc: d.takeScratch(start), Dense: dense}
	}
	d.objs[idx] = d.leave(f, depth, v, marker3Array)
	return v, nil
}

func (d *Decoder) readObject3(depth int) (any, error) {
	u, err := d.readU29()
	if err != nil {
		return nil, err
	}
	if u&1 == 0 {
		return d.objRef3(u, depth, marker3Object)
	}
	f, err := d.enter(depth)
	if err != nil {
		return nil, err
	}
	idx := len(d.objs)
	d.objs = append(d.objs, entry{})
	tr, err := d.readTraits3(u)
	if err != nil {
		return nil, err
	}
	what := "object"
	if tr.class != "" {
		what = "object " + strconv.Quote(tr.class)
	}
	start := len(d.scratch)
	for _, name := range tr.names {
		off := d.off
		v, err := d.readValue3(depth + 1)
		if err == nil {
			err = d.pushProp(start, name, v)
		}
		if err != nil {
			return nil, d.wrap(err, off, codec3, what+" property "+strconv.Quote(name))
		}
	}
	if tr.dynamic {
		if err := d.readDynamic3(start, depth, what); err != nil {
			return nil, err
		}
	}
	props := d.takeScratch(start)
	var v any
	if tr.class == "" && tr.dynamic && len(tr.names) == 0 {
		v = Object(props)
	} else {
		v = &TypedObject{Class: tr.class, Props: props, Sealed: len(tr.names), Dynamic: tr.dynamic}
	}
	d.objs[idx] = d.leave(f, depth, v, marker3Object)
	return v, nil
}

// readDynamic3 reads key/value pairs up to the empty key (an array's
// associative part, an object's dynamic members) onto the scratch
// properties from start.
func (d *Decoder) readDynamic3(start, depth int, what string) error {
	for {
		off := d.off
		key, err := d.readString3()
		if err != nil {
			return d.wrap(err, off, codec3, what+" key")
		}
		if key == "" {
			return nil
		}
		off = d.off
		v, err := d.readValue3(depth + 1)
		if err == nil {
			err = d.pushProp(start, key, v)
		}
		if err != nil {
			return d.wrap(err, off, codec3, what+" property "+strconv.Quote(key))
		}
	}
}

// readTraits3 reads the traits of an object whose header is u.
func (d *Decoder) readTraits3(u uint32) (traits, error) {
	off := d.off
	if u&2 == 0 {
		i := int(u >> 2)
		if i >= len(d.traits) {
			return traits{}, d.wrap(fmt.Errorf("traits reference %d with %d traits in the table: %w",
				i, len(d.traits), ErrBadReference), off, codec3, "object traits")
		}
		return d.traits[i], nil
	}
	class, err := d.readString3()
	if err != nil {
		return traits{}, d.wrap(err, off, codec3, "object class name")
	}
	if u&4 != 0 {
		return traits{}, d.wrap(fmt.Errorf("externalizable class %q: %w", class, ErrUnsupported),
			off, codec3, "object traits")
	}
	n := u >> 4
	if err := d.checkCount(uint64(n), 1); err != nil {
		return traits{}, d.wrap(err, off, codec3, "object traits")
	}
	tr := traits{class: class, dynamic: u&8 != 0, names: make([]string, n)}
	for i := range tr.names {
		off := d.off
		if tr.names[i], err = d.readString3(); err != nil {
			return traits{}, d.wrap(err, off, codec3, "object sealed member name "+strconv.Itoa(i))
		}
	}
	d.traits = append(d.traits, tr)
	return tr, nil
}

func (d *Decoder) readVector3(depth int, m byte) (any, error) {
	u, err := d.readU29()
	if err != nil {
		return nil, err
	}
	if u&1 == 0 {
		return d.objRef3(u, depth, m)
	}
	f, err := d.enter(depth)
	if err != nil {
		return nil, err
	}
	fixed, err := d.readU8()
	if err != nil {
		return nil, err
	}
	vec := &Vector{Kind: VectorKind(m), Fixed: fixed != 0}
	idx := len(d.objs)
	d.objs = append(d.objs, entry{})
	if m == marker3VectorObject {
		off := d.off
		if vec.TypeName, err = d.readString3(); err != nil {
			return nil, d.wrap(err, off, codec3, "vector type name")
		}
	}
	n := uint64(u >> 1)
	size := 1
	switch m {
	case marker3VectorInt, marker3VectorUint:
		size = 4
	case marker3VectorDouble:
		size = 8
	}
	if err := d.checkCount(n, size); err != nil {
		return nil, err
	}
	if m != marker3VectorObject {
		if err := d.count(int(n)); err != nil {
			return nil, err
		}
	}
	vec.Items = make([]any, n)
	for i := range vec.Items {
		switch m {
		case marker3VectorInt:
			vec.Items[i] = int32(binary.BigEndian.Uint32(d.b[d.off:]))
			d.off += 4
		case marker3VectorUint:
			vec.Items[i] = binary.BigEndian.Uint32(d.b[d.off:])
			d.off += 4
		case marker3VectorDouble:
			vec.Items[i] = boxNumber(math.Float64frombits(binary.BigEndian.Uint64(d.b[d.off:])))
			d.off += 8
		default:
			off := d.off
			if vec.Items[i], err = d.readValue3(depth + 1); err != nil {
				return nil, d.wrap(err, off, codec3, "vector item "+strconv.Itoa(i))
			}
		}
	}
	d.objs[idx] = d.leave(f, depth, vec, m)
	return vec, nil
}

func (d *Decoder) readDictionary3(depth int) (any, error) {
	u, err := d.readU29()
	if err != nil {
		return nil, err
	}
	if u&1 == 0 {
		return d.objRef3(u, depth, marker3Dictionary)
	}
	f, err := d.enter(depth)
	if err != nil {
		return nil, err
	}
	weak, err := d.readU8()
	if err != nil {
		return nil, err
	}
	n := uint64(u >> 1)
	if err := d.checkCount(n, 2); err != nil {
		return nil, err
	}
	idx := len(d.objs)
	d.objs = append(d.objs, entry{})
	dict := &Dictionary{WeakKeys: weak != 0, Entries: make([]DictEntry, n)}
	for i := range dict.Entries {
		off := d.off
		if dict.Entries[i].Key, err = d.readValue3(depth + 1); err != nil {
			return nil, d.wrap(err, off, codec3, "dictionary key "+strconv.Itoa(i))
		}
		off = d.off
		if dict.Entries[i].Value, err = d.readValue3(depth + 1); err != nil {
			return nil, d.wrap(err, off, codec3, "dictionary value "+strconv.Itoa(i))
		}
	}
	d.objs[idx] = d.leave(f, depth, dict, marker3Dictionary)
	return dict, nil
}
