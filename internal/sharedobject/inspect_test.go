package sharedobject

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shoal-live/shoal/internal/rtmp/amf"
)

// amf3 encodes v as one AMF3 value.
func amf3(t testing.TB, v any) []byte {
	t.Helper()
	e := amf.NewEncoder3(nil)
	if err := e.Encode(v); err != nil {
		t.Fatalf("encode %v: %v", v, err)
	}
	return e.Bytes()
}

// inspected is what an Inspector shows, for comparisons.
type inspected struct {
	Version  uint64
	Created  bool
	Dropped  bool
	LastNode string
	Attrs    map[string]any
	Size     int
}

func inspect(in *Inspector) inspected {
	got := inspected{Version: in.Version(), Created: in.Created(), Dropped: in.Dropped(), LastNode: in.LastNode(), Attrs: map[string]any{}, Size: in.Size()}
	for _, a := range in.Attributes() {
		got.Attrs[a.Key] = a.Value
	}
	return got
}

func TestInspectorApply(t *testing.T) {
	setX := func(v float64) op { return op{kind: opSet, key: "x", value: amf3(t, v)} }
	for _, tc := range []struct {
		name    string
		records [][]byte
		want    inspected
		wantErr int // index of the record whose Apply fails, -1 for none
	}{
		{
			name:    "use only",
			records: [][]byte{(&batch{node: "a", ops: []op{{kind: opUse, create: true}}}).appendTo(nil)},
			want:    inspected{Version: 1, Created: true, LastNode: "a", Attrs: map[string]any{}},
			wantErr: -1,
		},
		{
			name: "sets, removes and sends",
			records: [][]byte{
				(&batch{node: "a", ops: []op{{kind: opUse}}}).appendTo(nil),
				(&batch{node: "a", ops: []op{setX(1), {kind: opSet, key: "name", value: amf3(t, "ball")}}}).appendTo(nil),
				(&batch{node: "b", ops: []op{setX(2), {kind: opSend, key: "hi", value: []byte{}}}}).appendTo(nil),
				(&batch{node: "b", ops: []op{{kind: opRemove, key: "name"}, {kind: opSet, key: "gone", value: amf3(t, true)}, {kind: opSet, key: "gone"}}}).appendTo(nil),
			},
			want:    inspected{Version: 4, Created: true, LastNode: "b", Attrs: map[string]any{"x": 2.0}, Size: 1 + 9},
			wantErr: -1,
		},
		{
			name: "clear",
			records: [][]byte{
				(&batch{node: "a", ops: []op{setX(1)}}).appendTo(nil),
				(&batch{node: "a", ops: []op{{kind: opClear}}}).appendTo(nil),
			},
			want:    inspected{Version: 2, Created: true, LastNode: "a", Attrs: map[string]any{}},
			wantErr: -1,
		},
		{
			name: "snapshot replaces the state",
			records: [][]byte{
				(&batch{node: "a", ops: []op{setX(1), {kind: opSet, key: "old", value: amf3(t, "o")}}}).appendTo(nil),
				(&snapshot{version: 41, created: true, attrs: []snapAttr{{key: "x", value: amf3(t, 7.0)}}}).appendTo(nil),
				(&batch{node: "c", ops: []op{{kind: opSet, key: "y", value: amf3(t, int32(3))}}}).appendTo(nil),
			},
			want:    inspected{Version: 42, Created: true, LastNode: "c", Attrs: map[string]any{"x": 7.0, "y": int32(3)}, Size: 1 + 9 + 1 + 2},
			wantErr: -1,
		},
		{
			name: "a tombstone ends the object",
			records: [][]byte{
				(&batch{node: "a", ops: []op{setX(1)}}).appendTo(nil),
				(&snapshot{version: 2, dropped: true}).appendTo(nil),
			},
			want:    inspected{Version: 2, Dropped: true, LastNode: "a", Attrs: map[string]any{}},
			wantErr: -1,
		},
		{
			name: "versions go on after a tombstone",
			records: [][]byte{
				(&snapshot{version: 2, dropped: true}).appendTo(nil),
				(&batch{node: "b", ops: []op{{kind: opUse, create: true}}}).appendTo(nil),
			},
			want:    inspected{Version: 3, Created: true, LastNode: "b", Attrs: map[string]any{}},
			wantErr: -1,
		},
		{
			name: "restores lift the version; an older one does not overwrite",
			records: [][]byte{
				(&batch{node: "a", ops: []op{{kind: opUse}}}).appendTo(nil),
				(&batch{node: "b", ops: []op{{kind: opRestore, base: 50}, setX(50)}}).appendTo(nil),
				(&batch{node: "c", ops: []op{{kind: opRestore, base: 40}, setX(40), {kind: opSet, key: "c", value: amf3(t, true)}}}).appendTo(nil),
			},
			want:    inspected{Version: 52, Created: true, LastNode: "c", Attrs: map[string]any{"x": 50.0}, Size: 10},
			wantErr: -1,
		},
		{
			name: "an undecodable batch is a version",
			records: [][]byte{
				(&batch{node: "a", ops: []op{setX(1)}}).appendTo(nil),
				{1, 1, 9},
			},
			want:    inspected{Version: 2, Created: true, LastNode: "a", Attrs: map[string]any{"x": 1.0}, Size: 10},
			wantErr: 1,
		},
		{
			name: "an undecodable snapshot changes nothing",
			records: [][]byte{
				(&batch{node: "a", ops: []op{setX(1)}}).appendTo(nil),
				{1, 2, 9},
			},
			want:    inspected{Version: 1, Created: true, LastNode: "a", Attrs: map[string]any{"x": 1.0}, Size: 10},
			wantErr: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var in Inspector
			for i, rec := range tc.records {
				err := in.Apply(uint64(10*(i+1)), rec)
				if (err != nil) != (i == tc.wantErr) {
					t.Errorf("Apply(record %d) error = %v, want error %v", i, err, i == tc.wantErr)
				}
			}
			// Records read again change nothing.
			for i, rec := range tc.records {
				if err := in.Apply(uint64(10*(i+1)), rec); err != nil {
					t.Errorf("Apply(record %d) again: %v", i, err)
				}
			}
			if diff := cmp.Diff(tc.want, inspect(&in)); diff != "" {
				t.Errorf("state mismatch (-want +got):\n%s", diff)
			}
			if in.Seq() != uint64(10*len(tc.records)) {
				t.Errorf("Seq() = %d, want %d", in.Seq(), 10*len(tc.records))
			}
		})
	}
}

func TestInspectorBadValue(t *testing.T) {
	var in Inspector
	rec := (&batch{node: "a", ops: []op{{kind: opSet, key: "bad", value: []byte{0x06}}}}).appendTo(nil)
	if err := in.Apply(1, rec); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	attrs := in.Attributes()
	if len(attrs) != 1 || attrs[0].Err == nil || attrs[0].Value != nil {
		t.Fatalf("Attributes() = %+v, want one attribute with a decode error", attrs)
	}
}

func FuzzInspectorApply(f *testing.F) {
	for _, tc := range recordCases {
		f.Add(tc.raw)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var in Inspector
		_ = in.Apply(1, b)
		_ = in.Apply(2, b)
		bt, err := decodeBatch(b)
		restore := err == nil && slices.ContainsFunc(bt.ops, func(o op) bool { return o.kind == opRestore })
		if in.Version() > 2 && b[1] != kindSnapshot && !restore {
			t.Fatalf("Version() = %d after two batches", in.Version())
		}
		size := 0
		for _, a := range in.Attributes() {
			size += len(a.Key) + a.Size
		}
		if size != in.Size() {
			t.Fatalf("Size() = %d, attributes add up to %d", in.Size(), size)
		}
	})
}
