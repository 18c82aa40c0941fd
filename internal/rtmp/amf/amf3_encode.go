package amf

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

// appendU29 appends v (at most maxU29) as a variable-length integer.
func appendU29(b []byte, v uint32) []byte {
	switch {
	case v < 0x80:
		return append(b, byte(v))
	case v < 0x4000:
		return append(b, byte(v>>7)|0x80, byte(v&0x7f))
	case v < 0x200000:
		return append(b, byte(v>>14)|0x80, byte(v>>7)|0x80, byte(v&0x7f))
	default:
		return append(b, byte(v>>22)|0x80, byte(v>>15)|0x80, byte(v>>8)|0x80, byte(v))
	}
}

// keyOf identifies a slice by its first element and length; empty slices
// have no identity.
func keyOf[T any](s []T, kind byte) objKey {
	if len(s) == 0 {
		return objKey{}
	}
	return objKey{p: &s[0], n: len(s), kind: kind}
}

func (e *Encoder) encode3(v any) error {
	switch v := v.(type) {
	case nil:
		e.buf = append(e.buf, marker3Null)
	case Undefined:
		e.buf = append(e.buf, marker3Undefined)
	case bool:
		if v {
			e.buf = append(e.buf, marker3True)
		} else {
			e.buf = append(e.buf, marker3False)
		}
	case float64:
		e.double3(v)
	case int32:
		e.int3(int64(v))
	case string:
		e.buf = append(e.buf, marker3String)
		return e.string3(v)
	case Object:
		return e.object3(keyOf(v, marker3Object), "", v, 0, true)
	case *TypedObject:
		if v == nil {
			e.buf = append(e.buf, marker3Null)
			return nil
		}
		return e.object3(objKey{p: v}, v.Class, v.Props, v.Sealed, v.Dynamic)
	case map[string]any:
		return e.object3(objKey{}, "", sortedProps(v), 0, true)
	case ECMAArray:
		return e.array3(keyOf(v, marker0ECMAArray), v, nil)
	case StrictArray:
		return e.array3(keyOf(v, marker3Array), nil, v)
	case []any:
		return e.array3(keyOf(v, marker3Array), nil, v)
	case *Array:
		if v == nil {
			e.buf = append(e.buf, marker3Null)
			return nil
		}
		return e.array3(objKey{p: v}, v.Assoc, v.Dense)
	case Date:
		e.date3(v.Millis)
	case time.Time:
		e.date3(DateOf(v).Millis)
	case XMLDocument:
		return bytes3(e, marker3XMLDocument, objKey{}, v)
	case XML:
		return bytes3(e, marker3XML, objKey{}, v)
	case ByteArray:
		return bytes3(e, marker3ByteArray, keyOf(v, marker3ByteArray), v)
	case []byte:
		return bytes3(e, marker3ByteArray, keyOf(v, marker3ByteArray), v)
	case *Vector:
		if v == nil {
			e.buf = append(e.buf, marker3Null)
			return nil
		}
		return e.vector3(v)
	case *Dictionary:
		if v == nil {
			e.buf = append(e.buf, marker3Null)
			return nil
		}
		return e.dictionary3(v)
	default:
		if i, ok := goInt(v); ok {
			e.int3(i)
			return nil
		}
		if f, ok := goNumber(v); ok {
			e.double3(f)
			return nil
		}
		return fmt.Errorf("cannot encode Go type %T: %w", v, ErrUnsupported)
	}
	return nil
}

func (e *Encoder) double3(f float64) {
	e.buf = append(e.buf, marker3Double)
	e.buf = binary.BigEndian.AppendUint64(e.buf, math.Float64bits(f))
}

// int3 writes i as an integer, or as a double outside the 29-bit range.
func (e *Encoder) int3(i int64) {
	if i < minInt29 || i > maxInt29 {
		e.double3(float64(i))
		return
	}
	e.buf = append(e.buf, marker3Integer)
	e.buf = appendU29(e.buf, uint32(i)&maxU29)
}

// string3 writes a UTF-8-vr: a reference to an earlier equal string, or the
// string itself. The empty string is never referenced.
func (e *Encoder) string3(s string) error {
	if s == "" {
		e.buf = append(e.buf, 0x01)
		return nil
	}
	if !e.noRefs {
		if i, ok := e.strs[s]; ok {
			e.buf = appendU29(e.buf, uint32(i)<<1)
			return nil
		}
	}
	if len(s) > maxLenU29 {
		return fmt.Errorf("string of %d bytes: %w", len(s), ErrTooLong)
	}
	if !e.noRefs && len(e.strs) < maxLenU29 {
		if e.strs == nil {
			e.strs = make(map[string]int)
		}
		e.strs[s] = len(e.strs)
	}
	e.buf = appendU29(e.buf, uint32(len(s))<<1|1)
	e.buf = append(e.buf, s...)
	return nil
}

// ref3 writes marker m and a reference if the value k was written before,
// and reports whether it did. Otherwise it gives the value the next index
// of the object table.
func (e *Encoder) ref3(m byte, k objKey) bool {
	if e.noRefs {
		return false
	}
	if k.p != nil {
		if i, ok := e.objs[k]; ok {
			e.buf = append(e.buf, m)
			e.buf = appendU29(e.buf, uint32(i)<<1)
			return true
		}
		if e.nobjs < maxLenU29 {
			if e.objs == nil {
				e.objs = make(map[objKey]int)
			}
			e.objs[k] = e.nobjs
		}
	}
	e.nobjs++
	return false
}

func (e *Encoder) date3(ms float64) {
	e.ref3(marker3Date, objKey{})
	e.buf = append(e.buf, marker3Date, 0x01)
	e.buf = binary.BigEndian.AppendUint64(e.buf, math.Float64bits(ms))
}

// bytes3 writes an XMLDocument, XML or ByteArray.
func bytes3[T ~string | ~[]byte](e *Encoder, m byte, k objKey, s T) error {
	if e.ref3(m, k) {
		return nil
	}
	if len(s) > maxLenU29 {
		return fmt.Errorf("%s of %d bytes: %w", marker3Name(m), len(s), ErrTooLong)
	}
	e.buf = append(e.buf, m)
	e.buf = appendU29(e.buf, uint32(len(s))<<1|1)
	e.buf = append(e.buf, s...)
	return nil
}

func (e *Encoder) array3(k objKey, assoc []Property, dense []any) error {
	if e.ref3(marker3Array, k) {
		return nil
	}
	if len(dense) > maxLenU29 {
		return fmt.Errorf("array of %d items: %w", len(dense), ErrTooMany)
	}
	if err := e.push(); err != nil {
		return err
	}
	e.buf = append(e.buf, marker3Array)
	e.buf = appendU29(e.buf, uint32(len(dense))<<1|1)
	for _, p := range assoc {
		if p.Key == "" {
			return fmt.Errorf("array property with an empty key: %w", ErrUnsupported)
		}
		if err := e.string3(p.Key); err != nil {
			return fmt.Errorf("array key: %w", err)
		}
		if err := e.encode3(p.Value); err != nil {
			return fmt.Errorf("array property %q: %w", p.Key, err)
		}
	}
	e.buf = append(e.buf, 0x01)
	for i, v := range dense {
		if err := e.encode3(v); err != nil {
			return fmt.Errorf("array item %d: %w", i, err)
		}
	}
	e.depth--
	return nil
}

// object3 writes an object: the first sealed props are sealed members, the
// rest dynamic members (which makes the traits dynamic).
func (e *Encoder) object3(k objKey, class string, props []Property, sealed int, dynamic bool) error {
	if e.ref3(marker3Object, k) {
		return nil
	}
	if sealed < 0 || sealed > len(props) {
		return fmt.Errorf("object %q with %d sealed members and %d properties: %w",
			class, sealed, len(props), ErrUnsupported)
	}
	dynamic = dynamic || len(props) > sealed
	if err := e.push(); err != nil {
		return err
	}
	e.buf = append(e.buf, marker3Object)
	if err := e.traits3(class, props[:sealed], dynamic); err != nil {
		return err
	}
	for _, p := range props[:sealed] {
		if err := e.encode3(p.Value); err != nil {
			return fmt.Errorf("object property %q: %w", p.Key, err)
		}
	}
	if dynamic {
		for _, p := range props[sealed:] {
			if p.Key == "" {
				return fmt.Errorf("object property with an empty key: %w", ErrUnsupported)
			}
			if err := e.string3(p.Key); err != nil {
				return fmt.Errorf("object key: %w", err)
			}
			if err := e.encode3(p.Value); err != nil {
				return fmt.Errorf("object property %q: %w", p.Key, err)
			}
		}
		e.buf = append(e.buf, 0x01)
	}
	e.depth--
	return nil
}

// traits3 writes object traits, or a reference to equal traits written
// before.
func (e *Encoder) traits3(class string, sealed []Property, dynamic bool) error {
	if !e.noRefs {
		flag := byte(0)
		if dynamic {
			flag = 1
		}
		e.key = append(e.key[:0], flag)
		key := e.key
		key = binary.BigEndian.AppendUint32(key, uint32(len(class)))
		key = append(key, class...)
		for _, p := range sealed {
			key = binary.BigEndian.AppendUint32(key, uint32(len(p.Key)))
			key = append(key, p.Key...)
		}
		e.key = key
		if i, ok := e.traits[string(key)]; ok {
			e.buf = appendU29(e.buf, uint32(i)<<2|1)
			return nil
		}
		if len(e.traits) < maxU29>>2 {
			if e.traits == nil {
				e.traits = make(map[string]int)
			}
			e.traits[string(key)] = len(e.traits)
		}
	}
	if len(sealed) > maxU29>>4 {
		return fmt.Errorf("object with %d sealed members: %w", len(sealed), ErrTooMany)
	}
	u := uint32(len(sealed))<<4 | 0x03
	if dynamic {
		u |= 0x08
	}
	e.buf = appendU29(e.buf, u)
	if err := e.string3(class); err != nil {
		return fmt.Errorf("object class name: %w", err)
	}
	for _, p := range sealed {
		if err := e.string3(p.Key); err != nil {
			return fmt.Errorf("object sealed member name: %w", err)
		}
	}
	return nil
}

func (e *Encoder) vector3(v *Vector) error {
	m := byte(v.Kind)
	if m < marker3VectorInt || m > marker3VectorObject {
		return fmt.Errorf("vector of kind 0x%02x: %w", m, ErrUnsupported)
	}
	if e.ref3(m, objKey{p: v}) {
		return nil
	}
	if len(v.Items) > maxLenU29 {
		return fmt.Errorf("vector of %d items: %w", len(v.Items), ErrTooMany)
	}
	if err := e.push(); err != nil {
		return err
	}
	fixed := byte(0)
	if v.Fixed {
		fixed = 1
	}
	e.buf = append(e.buf, m)
	e.buf = appendU29(e.buf, uint32(len(v.Items))<<1|1)
	e.buf = append(e.buf, fixed)
	if m == marker3VectorObject {
		if err := e.string3(v.TypeName); err != nil {
			return fmt.Errorf("vector type name: %w", err)
		}
	}
	for i, item := range v.Items {
		var err error
		switch m {
		case marker3VectorInt:
			n, ok := goInt(item)
			if !ok || n < math.MinInt32 || n > math.MaxInt32 {
				err = fmt.Errorf("%T %v is not an int32: %w", item, item, ErrUnsupported)
				break
			}
			e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(int32(n)))
		case marker3VectorUint:
			n, ok := goInt(item)
			if !ok || n < 0 || n > math.MaxUint32 {
				err = fmt.Errorf("%T %v is not a uint32: %w", item, item, ErrUnsupported)
				break
			}
			e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(n))
		case marker3VectorDouble:
			f, ok := goNumber(item)
			if !ok {
				err = fmt.Errorf("%T is not a number: %w", item, ErrUnsupported)
				break
			}
			e.buf = binary.BigEndian.AppendUint64(e.buf, math.Float64bits(f))
		default:
			err = e.encode3(item)
		}
		if err != nil {
			return fmt.Errorf("vector item %d: %w", i, err)
		}
	}
	e.depth--
	return nil
}

func (e *Encoder) dictionary3(v *Dictionary) error {
	if e.ref3(marker3Dictionary, objKey{p: v}) {
		return nil
	}
	if len(v.Entries) > maxLenU29 {
		return fmt.Errorf("dictionary of %d entries: %w", len(v.Entries), ErrTooMany)
	}
	if err := e.push(); err != nil {
		return err
	}
	weak := byte(0)
	if v.WeakKeys {
		weak = 1
	}
	e.buf = append(e.buf, marker3Dictionary)
	e.buf = appendU29(e.buf, uint32(len(v.Entries))<<1|1)
	e.buf = append(e.buf, weak)
	for i, en := range v.Entries {
		if err := e.encode3(en.Key); err != nil {
			return fmt.Errorf("dictionary key %d: %w", i, err)
		}
		if err := e.encode3(en.Value); err != nil {
			return fmt.Errorf("dictionary value %d: %w", i, err)
		}
	}
	e.depth--
	return nil
}
