package sharedobject

import (
	"fmt"
	"maps"
	"slices"

	"github.com/shoal-live/shoal/internal/rtmp/amf"
)

// Inspector rebuilds one shared object's state from its log records,
// read-only, for tools that look at the log from outside a node (the web
// console). It applies records as a node's replica does: a batch is one
// version whatever it holds (an undecodable one too), a snapshot replaces
// the state and sets the version it carries. It sends nothing to anyone.
//
// The zero Inspector is an empty object at version 0. It is not safe for
// concurrent use.
type Inspector struct {
	seq      uint64
	version  uint64
	created  bool
	dropped  bool
	restored uint64 // highest restore base applied
	lastNode string
	attrs    map[string][]byte
	size     int
}

// Apply applies the record at log position seq. The record's own bytes say
// whether it is a batch or a snapshot. Records at or below the last
// position applied are ignored (a re-read). An undecodable batch still
// counts as a version, as on the nodes, and Apply returns its error; an
// undecodable snapshot changes nothing and Apply returns its error. Apply
// keeps no reference to data.
func (in *Inspector) Apply(seq uint64, data []byte) error {
	if seq != 0 && seq <= in.seq {
		return nil
	}
	in.seq = seq
	if len(data) >= 2 && data[0] == recordFormat && data[1] == kindSnapshot {
		s, err := decodeSnapshot(data)
		if err != nil {
			return fmt.Errorf("inspect record %d: %w", seq, err)
		}
		in.version, in.created, in.dropped, in.restored = s.version, s.created, s.dropped, s.restored
		in.attrs = make(map[string][]byte, len(s.attrs))
		in.size = 0
		for _, a := range s.attrs {
			in.put(a.key, a.value)
		}
		return nil
	}
	in.version++
	in.dropped = false
	bt, err := decodeBatch(data)
	if err != nil {
		return fmt.Errorf("inspect record %d: %w", seq, err)
	}
	in.lastNode = bt.node
	skipSets := false
	for i := range bt.ops {
		o := &bt.ops[i]
		if o.kind != opUse && o.kind != opRestore && !skipSets {
			in.created = true
		}
		switch o.kind {
		case opUse:
			in.created = in.created || o.create
		case opRestore:
			in.version = max(in.version, o.base+1)
			skipSets = o.base < in.restored
			in.restored = max(in.restored, o.base)
			in.created = in.created || (o.create && !skipSets)
		case opSet:
			if skipSets {
				continue
			}
			if o.value == nil {
				in.del(o.key)
			} else {
				in.put(o.key, o.value)
			}
		case opRemove:
			in.del(o.key)
		case opClear:
			clear(in.attrs)
			in.size = 0
		case opSend:
		}
	}
	return nil
}

func (in *Inspector) put(key string, enc []byte) {
	if in.attrs == nil {
		in.attrs = make(map[string][]byte)
	}
	if old, ok := in.attrs[key]; ok {
		in.size -= len(key) + len(old)
	}
	in.attrs[key] = slices.Clone(enc)
	in.size += len(key) + len(enc)
}

func (in *Inspector) del(key string) {
	if old, ok := in.attrs[key]; ok {
		in.size -= len(key) + len(old)
		delete(in.attrs, key)
	}
}

// Dropped reports whether the last record applied is the tombstone of a
// drop: the object ended and nobody used it since.
func (in *Inspector) Dropped() bool { return in.dropped }

// Seq returns the log position of the last record applied.
func (in *Inspector) Seq() uint64 { return in.seq }

// Version returns the object's version: the number of batches applied,
// counted from the last snapshot's version.
func (in *Inspector) Version() uint64 { return in.version }

// Created reports whether the object has been created (used with creation
// allowed, or written).
func (in *Inspector) Created() bool { return in.created }

// LastNode returns the node that appended the last batch applied, "" if
// none was.
func (in *Inspector) LastNode() string { return in.lastNode }

// Len returns the number of attributes.
func (in *Inspector) Len() int { return len(in.attrs) }

// Size returns the bytes of the attributes' keys and AMF3 values.
func (in *Inspector) Size() int { return in.size }

// InspectedAttribute is one attribute of an inspected object.
type InspectedAttribute struct {
	Key string
	// Value is the decoded AMF3 value (the types of package amf), nil if
	// the stored bytes do not decode (Err says why).
	Value any
	Err   error
	// Size is the size of the AMF3 encoding in bytes.
	Size int
}

// Attributes returns the attributes ordered by key, their values decoded.
func (in *Inspector) Attributes() []InspectedAttribute {
	out := make([]InspectedAttribute, 0, len(in.attrs))
	var dec *amf.Decoder
	for _, k := range slices.Sorted(maps.Keys(in.attrs)) {
		enc := in.attrs[k]
		if dec == nil {
			dec = amf.NewDecoder3(enc, amf.DefaultLimits)
		} else {
			dec.Reset(enc)
		}
		v, err := dec.Decode()
		if err != nil {
			v, err = nil, fmt.Errorf("decode attribute %q: %w", k, err)
		}
		out = append(out, InspectedAttribute{Key: k, Value: v, Err: err, Size: len(enc)})
	}
	return out
}
