package sharedobject

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Log records are encoded compactly in binary:
//
//	record   = format:u8(1) kind:u8 body
//	batch    = node:str session:uvarint req:uvarint nops:uvarint op*
//	op       = opUse   flags:u8 (bit 0: creation allowed)
//	         | opSet   key:str null:u8 [value:bytes]
//	         | opRemove key:str
//	         | opSend  handler:str nilArgs:u8 args:bytes
//	         | opClear
//	         | opRestore base:uvarint flags:u8 (bit 0: the copy was created)
//	snapshot = version:uvarint flags:u8 [restored:uvarint] nattrs:uvarint (key:str value:bytes)*
//	           flags: bit 0 created, bit 1 dropped (a tombstone written by
//	           Drop), bit 2 restored present (the highest restore base applied)
//	str, bytes = len:uvarint data
//
// Values are AMF3, each with its own reference tables, so equal values have
// equal bytes and a stored value can be compared and relayed without
// decoding it. SendMessage arguments are one AMF3 sequence.
const recordFormat = 1

// Record kinds.
const (
	kindBatch    = 1
	kindSnapshot = 2
)

type opKind uint8

const (
	opUse opKind = iota + 1
	opSet
	opRemove
	opSend
	opClear
	// opRestore starts a batch that writes back a node's copy of an
	// object whose log restarted: the version rises above base, and the
	// sets after it apply only if no restore with a higher base came
	// first.
	opRestore
)

func (k opKind) String() string {
	switch k {
	case opUse:
		return "use"
	case opSet:
		return "set"
	case opRemove:
		return "remove"
	case opSend:
		return "send"
	case opClear:
		return "clear"
	case opRestore:
		return "restore"
	}
	return fmt.Sprintf("op(%d)", uint8(k))
}

// op is one operation of a batch.
type op struct {
	kind    opKind
	key     string // set, remove; the handler of a send
	value   []byte // set: AMF3 value, nil for null (which removes the key); send: AMF3 arguments
	nilArgs bool   // send: the client sent no argument list
	create  bool   // use: the requester may create the object; restore: the copy was created
	base    uint64 // restore: the version the restoring node had reached
}

// batch is the payload of one log record: the ops of one client message
// (or one server call), applied atomically as one version.
type batch struct {
	node    string // node that appended it
	session uint64 // that node's Manager instance
	req     uint64 // request id on that Manager, 0 for none
	ops     []op
}

// snapshot is an object's state as of some version.
type snapshot struct {
	version  uint64
	created  bool
	dropped  bool   // a tombstone: the object's life ended here
	restored uint64 // the highest restore base applied
	attrs    []snapAttr
}

// Snapshot flags.
const (
	snapCreated  = 1 << 0
	snapDropped  = 1 << 1
	snapRestored = 1 << 2
)

type snapAttr struct {
	key   string
	value []byte
}

var errRecord = errors.New("malformed log record")

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b []byte, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func (bt *batch) appendTo(b []byte) []byte {
	b = append(b, recordFormat, kindBatch)
	b = appendStr(b, bt.node)
	b = binary.AppendUvarint(b, bt.session)
	b = binary.AppendUvarint(b, bt.req)
	b = binary.AppendUvarint(b, uint64(len(bt.ops)))
	for i := range bt.ops {
		o := &bt.ops[i]
		b = append(b, byte(o.kind))
		switch o.kind {
		case opUse:
			b = appendBool(b, o.create)
		case opSet:
			b = appendStr(b, o.key)
			b = appendBool(b, o.value == nil)
			if o.value != nil {
				b = appendBytes(b, o.value)
			}
		case opRemove:
			b = appendStr(b, o.key)
		case opSend:
			b = appendStr(b, o.key)
			b = appendBool(b, o.nilArgs)
			b = appendBytes(b, o.value)
		case opClear:
		case opRestore:
			b = binary.AppendUvarint(b, o.base)
			b = appendBool(b, o.create)
		}
	}
	return b
}

func (s *snapshot) appendTo(b []byte) []byte {
	b = append(b, recordFormat, kindSnapshot)
	b = binary.AppendUvarint(b, s.version)
	var flags byte
	if s.created {
		flags |= snapCreated
	}
	if s.dropped {
		flags |= snapDropped
	}
	if s.restored != 0 {
		flags |= snapRestored
	}
	b = append(b, flags)
	if s.restored != 0 {
		b = binary.AppendUvarint(b, s.restored)
	}
	b = binary.AppendUvarint(b, uint64(len(s.attrs)))
	for _, a := range s.attrs {
		b = appendStr(b, a.key)
		b = appendBytes(b, a.value)
	}
	return b
}

// recReader reads a record. Byte slices it returns alias the record.
type recReader struct {
	b   []byte
	off int
	err error
}

func (r *recReader) fail(what string, err error) {
	if r.err == nil {
		r.err = fmt.Errorf("%s at offset %d: %w", what, r.off, err)
	}
}

func (r *recReader) u8(what string) byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.fail(what, errRecord)
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *recReader) bool(what string) bool {
	c := r.u8(what)
	if c > 1 {
		r.fail(what, errRecord)
	}
	return c == 1
}

func (r *recReader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.fail(what, errRecord)
		return 0
	}
	r.off += n
	return v
}

// count reads a count of items that need at least minSize bytes each.
func (r *recReader) count(what string, minSize int) int {
	n := r.uvarint(what)
	if r.err == nil && n > uint64(len(r.b)-r.off)/uint64(minSize) {
		r.fail(what, errRecord)
		return 0
	}
	return int(n)
}

func (r *recReader) bytes(what string) []byte {
	n := r.uvarint(what)
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)-r.off) {
		r.fail(what, errRecord)
		return nil
	}
	v := r.b[r.off : r.off+int(n) : r.off+int(n)]
	r.off += int(n)
	return v
}

func (r *recReader) str(what string) string { return string(r.bytes(what)) }

func (r *recReader) header(kind byte) {
	if f := r.u8("format"); r.err == nil && f != recordFormat {
		r.fail(fmt.Sprintf("format %d", f), errRecord)
	}
	if k := r.u8("kind"); r.err == nil && k != kind {
		r.fail(fmt.Sprintf("kind %d, want %d", k, kind), errRecord)
	}
}

func (r *recReader) end() error {
	if r.err == nil && r.off != len(r.b) {
		r.fail(fmt.Sprintf("%d trailing bytes", len(r.b)-r.off), errRecord)
	}
	return r.err
}

func decodeBatch(data []byte) (batch, error) {
	r := recReader{b: data}
	r.header(kindBatch)
	var bt batch
	bt.node = r.str("node")
	bt.session = r.uvarint("session")
	bt.req = r.uvarint("request id")
	n := r.count("op count", 1)
	if r.err == nil && n > 0 {
		bt.ops = make([]op, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		o := &bt.ops[i]
		o.kind = opKind(r.u8("op kind"))
		switch o.kind {
		case opUse:
			o.create = r.bool("use flags")
		case opSet:
			o.key = r.str("set key")
			if !r.bool("set null flag") {
				o.value = r.bytes("set value")
			}
		case opRemove:
			o.key = r.str("remove key")
		case opSend:
			o.key = r.str("send handler")
			o.nilArgs = r.bool("send flags")
			o.value = r.bytes("send arguments")
		case opClear:
		case opRestore:
			o.base = r.uvarint("restore base")
			o.create = r.bool("restore flags")
		default:
			r.fail(fmt.Sprintf("op %d kind %d", i, o.kind), errRecord)
		}
	}
	if err := r.end(); err != nil {
		return batch{}, fmt.Errorf("decode batch: %w", err)
	}
	return bt, nil
}

func decodeSnapshot(data []byte) (snapshot, error) {
	r := recReader{b: data}
	r.header(kindSnapshot)
	var s snapshot
	s.version = r.uvarint("version")
	flags := r.u8("flags")
	if r.err == nil && flags&^(snapCreated|snapDropped|snapRestored) != 0 {
		r.fail(fmt.Sprintf("flags %#x", flags), errRecord)
	}
	s.created = flags&snapCreated != 0
	s.dropped = flags&snapDropped != 0
	if flags&snapRestored != 0 {
		s.restored = r.uvarint("restored")
	}
	n := r.count("attribute count", 2)
	if r.err == nil && n > 0 {
		s.attrs = make([]snapAttr, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		s.attrs[i].key = r.str("attribute key")
		s.attrs[i].value = r.bytes("attribute value")
	}
	if err := r.end(); err != nil {
		return snapshot{}, fmt.Errorf("decode snapshot: %w", err)
	}
	return s, nil
}
