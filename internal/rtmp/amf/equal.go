package amf

import (
	"bytes"
	"math"
	"time"
)

// Equal reports whether a and b hold the same AMF value, comparing by
// content: deeply, in order for object properties and array items. Numbers
// compare by value whatever their Go type (int32(1) equals 1.0), and NaN
// equals NaN. Encoding details that do not change the value are ignored: a
// *TypedObject's Sealed and Dynamic fields; a *TypedObject with no class
// equals an Object with the same properties; an ECMAArray equals an *Array
// with the same associative part and no dense part, and an *Array with no
// associative part equals a StrictArray with the same items. The Go
// conveniences the encoders accept compare as what they encode to ([]any as
// StrictArray, map[string]any as an Object with sorted keys, time.Time as
// Date, []byte as ByteArray). Values nested more than 1024 levels are
// reported unequal.
func Equal(a, b any) bool { return equal(a, b, 0) }

func equal(a, b any, depth int) bool {
	if depth > maxEncodeDepth {
		return false
	}
	if fa, ok := goNumber(a); ok {
		fb, ok := goNumber(b)
		return ok && sameNumber(fa, fb)
	}
	a, b = canonical(a), canonical(b)
	if ca, pa, ok := objectParts(a); ok {
		cb, pb, ok := objectParts(b)
		return ok && ca == cb && equalProps(pa, pb, depth)
	}
	if aa, da, ok := arrayParts(a); ok {
		ab, db, ok := arrayParts(b)
		return ok && equalProps(aa, ab, depth) && equalItems(da, db, depth)
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case Undefined, bool, string, XMLDocument, XML:
		return a == b
	case Date:
		y, ok := b.(Date)
		return ok && sameNumber(x.Millis, y.Millis)
	case ByteArray:
		y, ok := b.(ByteArray)
		return ok && bytes.Equal(x, y)
	case *Vector:
		y, ok := b.(*Vector)
		return ok && x.Kind == y.Kind && x.Fixed == y.Fixed && x.TypeName == y.TypeName &&
			equalItems(x.Items, y.Items, depth)
	case *Dictionary:
		y, ok := b.(*Dictionary)
		if !ok || x.WeakKeys != y.WeakKeys || len(x.Entries) != len(y.Entries) {
			return false
		}
		for i := range x.Entries {
			if !equal(x.Entries[i].Key, y.Entries[i].Key, depth+1) ||
				!equal(x.Entries[i].Value, y.Entries[i].Value, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}

// canonical maps Go conveniences and nil pointers to the package's types.
func canonical(v any) any {
	switch x := v.(type) {
	case []any:
		return StrictArray(x)
	case map[string]any:
		return sortedProps(x)
	case time.Time:
		return DateOf(x)
	case []byte:
		return ByteArray(x)
	case *TypedObject:
		if x == nil {
			return nil
		}
	case *Array:
		if x == nil {
			return nil
		}
	case *Vector:
		if x == nil {
			return nil
		}
	case *Dictionary:
		if x == nil {
			return nil
		}
	}
	return v
}

func objectParts(v any) (class string, props []Property, ok bool) {
	switch x := v.(type) {
	case Object:
		return "", x, true
	case *TypedObject:
		return x.Class, x.Props, true
	}
	return "", nil, false
}

func arrayParts(v any) (assoc []Property, dense []any, ok bool) {
	switch x := v.(type) {
	case StrictArray:
		return nil, x, true
	case ECMAArray:
		return x, nil, true
	case *Array:
		return x.Assoc, x.Dense, true
	}
	return nil, nil, false
}

func equalProps(a, b []Property, depth int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || !equal(a[i].Value, b[i].Value, depth+1) {
			return false
		}
	}
	return true
}

func equalItems(a, b []any, depth int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !equal(a[i], b[i], depth+1) {
			return false
		}
	}
	return true
}

func sameNumber(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }
