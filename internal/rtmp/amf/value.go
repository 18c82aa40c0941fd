// Package amf encodes and decodes Action Message Format values, AMF0 and
// AMF3, as RTMP commands, data messages and shared objects carry them.
//
// Values decode to these Go types, and the encoders accept them:
//
//	nil            null
//	Undefined      undefined
//	bool           boolean
//	float64        number (AMF0 number, AMF3 double)
//	int32          AMF3 integer (29-bit); encoded as a number in AMF0
//	string         string (AMF0 string or long string, AMF3 string)
//	Object         anonymous object, properties in wire order
//	*TypedObject   typed object (AMF0 typed object, AMF3 sealed/dynamic traits)
//	ECMAArray      AMF0 ECMA (associative) array
//	StrictArray    AMF0 strict array, AMF3 dense array with no associative part
//	*Array         AMF3 array with an associative part
//	Date           date
//	XMLDocument    XML (AMF0 XML document, AMF3 XMLDocument)
//	XML            AMF3 XML
//	ByteArray      AMF3 ByteArray
//	*Vector        AMF3 vectors (int, uint, double, object)
//	*Dictionary    AMF3 dictionary
//
// Decoders enforce limits (nesting depth, string and collection lengths) and
// return errors that say what was wrong and where.
package amf

import "time"

// Undefined is the AMF undefined value.
type Undefined struct{}

// Property is one key/value pair of an object or associative array.
type Property struct {
	Key   string
	Value any
}

// Object is an anonymous object. Properties keep their wire order so that
// encoding a decoded object gives back the same bytes.
type Object []Property

// Get returns the value of key and whether it was present.
func (o Object) Get(key string) (any, bool) {
	for _, p := range o {
		if p.Key == key {
			return p.Value, true
		}
	}
	return nil, false
}

// TypedObject is an object with a class name. In AMF3, Sealed holds the
// sealed member names in trait order (their values are the first len(Sealed)
// entries of Props) and Dynamic tells whether the traits are dynamic.
type TypedObject struct {
	Class   string
	Props   Object
	Sealed  int  // AMF3 only: how many of Props are sealed members
	Dynamic bool // AMF3 only
}

// ECMAArray is an AMF0 associative array.
type ECMAArray []Property

// StrictArray is a dense array.
type StrictArray []any

// Array is an AMF3 array with both an associative part and a dense part.
type Array struct {
	Assoc []Property
	Dense []any
}

// Date is a point in time with millisecond precision. AMF0 carries a time
// zone field that is always written as 0 and ignored on read.
type Date struct {
	Millis float64 // milliseconds since the Unix epoch, UTC
}

// Time returns d as a time.Time in UTC.
func (d Date) Time() time.Time { return time.UnixMilli(int64(d.Millis)).UTC() }

// DateOf returns the Date of t.
func DateOf(t time.Time) Date { return Date{Millis: float64(t.UnixMilli())} }

// XMLDocument is an XML document (AMF0 0x0f, AMF3 0x07).
type XMLDocument string

// XML is an AMF3 E4X XML value (0x0b).
type XML string

// ByteArray is an AMF3 ByteArray.
type ByteArray []byte

// VectorKind says which AMF3 vector type a Vector is.
type VectorKind byte

// Vector kinds, valued as their AMF3 markers.
const (
	VectorInt    VectorKind = 0x0d
	VectorUint   VectorKind = 0x0e
	VectorDouble VectorKind = 0x0f
	VectorObject VectorKind = 0x10
)

// Vector is an AMF3 vector. Items hold int32, uint32, float64 or any
// according to Kind; TypeName is the object type name of an object vector.
type Vector struct {
	Kind     VectorKind
	Fixed    bool
	TypeName string
	Items    []any
}

// Dictionary is an AMF3 dictionary.
type Dictionary struct {
	WeakKeys bool
	Entries  []DictEntry
}

// DictEntry is one key/value pair of a Dictionary.
type DictEntry struct {
	Key   any
	Value any
}
