package amf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Limits bound what a Decoder accepts. A field that is zero or negative
// takes its value from DefaultLimits.
type Limits struct {
	// MaxDepth is how deeply objects, arrays, vectors and dictionaries may
	// nest.
	MaxDepth int
	// MaxStringLen bounds the byte length of strings, XML and byte arrays.
	MaxStringLen int
	// MaxItems bounds the items (properties, elements, entries) of one
	// collection.
	MaxItems int
	// MaxTotalItems bounds the values one Decoder reads. A reference counts
	// as many items as the value it refers to, and every string also counts
	// one item per 16 bytes, so a small message cannot expand through
	// references into a huge value.
	MaxTotalItems int
}

// DefaultLimits suit RTMP commands, data messages and shared objects.
var DefaultLimits = Limits{MaxDepth: 64, MaxStringLen: 16 << 20, MaxItems: 1 << 20, MaxTotalItems: 4 << 20}

func (l Limits) withDefaults() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxStringLen <= 0 {
		l.MaxStringLen = DefaultLimits.MaxStringLen
	}
	if l.MaxItems <= 0 {
		l.MaxItems = DefaultLimits.MaxItems
	}
	if l.MaxTotalItems <= 0 {
		l.MaxTotalItems = DefaultLimits.MaxTotalItems
	}
	return l
}

// smallBody is the largest input whose strings are cut from one string copy
// of the whole input (one allocation instead of one per string). Larger
// inputs copy each string, so a long-lived small value never pins a large
// message.
const smallBody = 4096

// Decoder reads consecutive values from one message body. AMF3 reference
// tables live for one Decoder (one message); an AMF0 decoder shares one AMF3
// table set among all the values it switches to AMF3 for (marker 0x11).
//
// Decoded values never alias the input. Values reached through a reference
// share memory with the value referred to. After an error the Decoder keeps
// returning that error until Reset.
type Decoder struct {
	b    []byte
	s    string // b as a string when len(b) <= smallBody, made on first use
	sOK  bool
	off  int
	lim  Limits
	amf3 bool
	err  error

	total   int // values read, plus references expanded, plus string weight
	deepest int // deepest container level reached so far

	refs0   []entry  // AMF0 object table
	strs    []string // AMF3 string table
	objs    []entry  // AMF3 object table
	traits  []traits // AMF3 traits table
	scratch []Property
	refsBuf [4]entry
}

// entry is one slot of an object table.
type entry struct {
	v      any
	weight int  // items counted while decoding the value (see Limits)
	height int  // container levels below the value; -1 for leaves
	marker byte // marker the value was decoded from
	done   bool // false while the value is still being decoded
}

// traits is one entry of the AMF3 traits table.
type traits struct {
	class   string
	names   []string
	dynamic bool
}

// NewDecoder returns an AMF0 decoder of b. Marker 0x11 switches to AMF3 for
// one value.
func NewDecoder(b []byte, limits Limits) *Decoder {
	d := &Decoder{lim: limits.withDefaults()}
	d.Reset(b)
	return d
}

// NewDecoder3 returns an AMF3 decoder of b.
func NewDecoder3(b []byte, limits Limits) *Decoder {
	d := NewDecoder(b, limits)
	d.amf3 = true
	return d
}

// Reset makes d read b from the start with empty reference tables, keeping
// its codec, limits and allocated tables.
func (d *Decoder) Reset(b []byte) {
	d.b, d.s, d.sOK, d.off, d.err = b, "", false, 0, nil
	d.total, d.deepest = 0, 0
	if d.refs0 == nil {
		d.refs0 = d.refsBuf[:0]
	}
	clear(d.refs0)
	d.refs0 = d.refs0[:0]
	clear(d.strs)
	d.strs = d.strs[:0]
	clear(d.objs)
	d.objs = d.objs[:0]
	clear(d.traits)
	d.traits = d.traits[:0]
	clear(d.scratch)
	d.scratch = d.scratch[:0]
}

// More reports whether unread bytes remain.
func (d *Decoder) More() bool { return d.off < len(d.b) }

// Offset returns how many bytes have been read.
func (d *Decoder) Offset() int { return d.off }

// Decode reads the next value.
func (d *Decoder) Decode() (any, error) {
	if d.err != nil {
		return nil, d.err
	}
	start := d.off
	var v any
	var err error
	if d.amf3 {
		v, err = d.readValue3(1)
	} else {
		v, err = d.readValue0(1)
	}
	if err != nil {
		d.err = d.wrap(err, start, d.codec(), d.markerName(start))
		return nil, d.err
	}
	return v, nil
}

// ReadUTF8 reads a string with a u16 length and no type marker, as shared
// object messages carry names and keys.
func (d *Decoder) ReadUTF8() (string, error) {
	if d.err != nil {
		return "", d.err
	}
	start := d.off
	s, err := d.readUTF8()
	if err != nil {
		d.err = d.wrap(err, start, d.codec(), "utf-8 string")
		return "", d.err
	}
	return s, nil
}

// Unmarshal decodes a sequence of AMF0 values with DefaultLimits.
func Unmarshal(b []byte) ([]any, error) { return unmarshal(NewDecoder(b, DefaultLimits)) }

// Unmarshal3 decodes a sequence of AMF3 values with DefaultLimits.
func Unmarshal3(b []byte) ([]any, error) { return unmarshal(NewDecoder3(b, DefaultLimits)) }

func unmarshal(d *Decoder) ([]any, error) {
	var vs []any
	for d.More() {
		v, err := d.Decode()
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	return vs, nil
}

func (d *Decoder) codec() string {
	if d.amf3 {
		return codec3
	}
	return codec0
}

const (
	codec0 = "amf0"
	codec3 = "amf3"
)

// markerName names the value whose marker is at off, for error messages.
func (d *Decoder) markerName(off int) string {
	if off >= len(d.b) {
		return "value"
	}
	if d.amf3 {
		return marker3Name(d.b[off])
	}
	return marker0Name(d.b[off])
}

// wrap adds what was being read, and where, to err unless an inner reader
// already did.
func (d *Decoder) wrap(err error, off int, codec, what string) error {
	var de *DecodeError
	if errors.As(err, &de) {
		return err
	}
	return &DecodeError{Codec: codec, What: what, Offset: off, Err: err}
}

// count adds n to the items read and fails past MaxTotalItems.
func (d *Decoder) count(n int) error {
	d.total += n
	if d.total > d.lim.MaxTotalItems {
		return fmt.Errorf("more than %d items in one message: %w", d.lim.MaxTotalItems, ErrTooMany)
	}
	return nil
}

// frame remembers decoder state at the start of a container.
type frame struct{ total, deepest int }

// enter starts a container at level depth.
func (d *Decoder) enter(depth int) (frame, error) {
	if depth > d.lim.MaxDepth {
		return frame{}, fmt.Errorf("more than %d levels: %w", d.lim.MaxDepth, ErrTooDeep)
	}
	f := frame{total: d.total, deepest: d.deepest}
	d.deepest = depth
	return f, nil
}

// leave ends a container started at level depth and returns its table entry.
func (d *Decoder) leave(f frame, depth int, v any, marker byte) entry {
	e := entry{v: v, weight: d.total - f.total, height: d.deepest - depth, marker: marker, done: true}
	d.deepest = max(d.deepest, f.deepest)
	return e
}

// expand accounts for a reference at level depth to e, as if e's value were
// decoded again there, so references cannot build values deeper or larger
// than the limits allow.
func (d *Decoder) expand(e entry, depth int) (any, error) {
	if e.height >= 0 {
		if depth+e.height > d.lim.MaxDepth {
			return nil, fmt.Errorf("reference would nest more than %d levels: %w", d.lim.MaxDepth, ErrTooDeep)
		}
		d.deepest = max(d.deepest, depth+e.height)
	}
	if err := d.count(e.weight); err != nil {
		return nil, err
	}
	return e.v, nil
}

// resolve returns the value of reference i into tab.
func (d *Decoder) resolve(tab []entry, i int) (entry, error) {
	if i >= len(tab) {
		return entry{}, fmt.Errorf("reference %d with %d objects in the table: %w", i, len(tab), ErrBadReference)
	}
	e := tab[i]
	if !e.done {
		return entry{}, fmt.Errorf("reference %d to an object that contains it: %w", i, ErrBadReference)
	}
	return e, nil
}

// takeScratch returns the properties collected since start and pops them.
func (d *Decoder) takeScratch(start int) []Property {
	props := make([]Property, len(d.scratch)-start)
	copy(props, d.scratch[start:])
	clear(d.scratch[start:])
	d.scratch = d.scratch[:start]
	return props
}

// pushProp collects one property of the collection that started at start.
func (d *Decoder) pushProp(start int, key string, v any) error {
	if len(d.scratch)-start >= d.lim.MaxItems {
		return fmt.Errorf("more than %d properties: %w", d.lim.MaxItems, ErrTooMany)
	}
	d.scratch = append(d.scratch, Property{Key: key, Value: v})
	return nil
}

// checkCount validates a declared item count before anything is allocated
// for it: each item needs at least minSize bytes of the remaining input.
func (d *Decoder) checkCount(n uint64, minSize int) error {
	if n > uint64(d.lim.MaxItems) {
		return fmt.Errorf("%d items, limit %d: %w", n, d.lim.MaxItems, ErrTooMany)
	}
	if left := len(d.b) - d.off; n*uint64(minSize) > uint64(left) {
		return fmt.Errorf("%d items with %d bytes left: %w", n, left, ErrTruncated)
	}
	return nil
}

func (d *Decoder) readU8() (byte, error) {
	if d.off >= len(d.b) {
		return 0, ErrTruncated
	}
	c := d.b[d.off]
	d.off++
	return c, nil
}

func (d *Decoder) readU16() (uint16, error) {
	if len(d.b)-d.off < 2 {
		return 0, ErrTruncated
	}
	v := binary.BigEndian.Uint16(d.b[d.off:])
	d.off += 2
	return v, nil
}

func (d *Decoder) readU32() (uint32, error) {
	if len(d.b)-d.off < 4 {
		return 0, ErrTruncated
	}
	v := binary.BigEndian.Uint32(d.b[d.off:])
	d.off += 4
	return v, nil
}

func (d *Decoder) readF64() (float64, error) {
	if len(d.b)-d.off < 8 {
		return 0, ErrTruncated
	}
	v := math.Float64frombits(binary.BigEndian.Uint64(d.b[d.off:]))
	d.off += 8
	return v, nil
}

// readStr reads n bytes as a string.
func (d *Decoder) readStr(n uint64) (string, error) {
	b, err := d.take(n)
	if err != nil {
		return "", err
	}
	if len(d.b) <= smallBody {
		if !d.sOK {
			d.s, d.sOK = string(d.b), true
		}
		return d.s[d.off-len(b) : d.off], nil
	}
	return string(b), nil
}

// take returns the next n bytes (aliasing the input) after checking n
// against MaxStringLen and what is left.
func (d *Decoder) take(n uint64) ([]byte, error) {
	if n > uint64(d.lim.MaxStringLen) {
		return nil, fmt.Errorf("length %d, limit %d: %w", n, d.lim.MaxStringLen, ErrTooLong)
	}
	if left := len(d.b) - d.off; n > uint64(left) {
		return nil, fmt.Errorf("length %d with %d bytes left: %w", n, left, ErrTruncated)
	}
	if err := d.count(int(n >> 4)); err != nil {
		return nil, err
	}
	b := d.b[d.off : d.off+int(n)]
	d.off += int(n)
	return b, nil
}

// readUTF8 reads a u16-length string.
func (d *Decoder) readUTF8() (string, error) {
	n, err := d.readU16()
	if err != nil {
		return "", err
	}
	return d.readStr(uint64(n))
}

// smallNumbers are boxed small integers, so decoding common numbers such as
// transaction ids and codec flags does not allocate.
var smallNumbers = func() (t [256]any) {
	for i := range t {
		t[i] = float64(i)
	}
	return t
}()

// boxNumber returns f as an interface value, without allocating for small
// non-negative integers.
func boxNumber(f float64) any {
	if f >= 0 && f < 256 {
		if i := int(f); float64(i) == f && (i != 0 || !math.Signbit(f)) {
			return smallNumbers[i]
		}
	}
	return f
}
