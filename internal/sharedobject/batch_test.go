package sharedobject

import (
	"errors"
	"reflect"
	"testing"
)

// recordCases drive the record decode and encode tests and the fuzz seeds.
var recordCases = []struct {
	name string
	bt   *batch    // or
	snap *snapshot // one of them
	raw  []byte
}{
	{
		name: "use",
		bt:   &batch{node: "a", session: 1, req: 2, ops: []op{{kind: opUse, create: true}}},
		raw:  []byte{1, 1, 1, 'a', 1, 2, 1, byte(opUse), 1},
	},
	{
		name: "server batch of every op",
		bt: &batch{node: "node-b", session: 300, ops: []op{
			{kind: opSet, key: "k", value: []byte{0x04, 0x05}},
			{kind: opSet, key: "k"},
			{kind: opRemove, key: "k"},
			{kind: opSend, key: "hi", value: []byte{0x01}},
			{kind: opSend, key: "h", nilArgs: true, value: []byte{}},
			{kind: opClear},
			{kind: opUse},
		}},
		raw: []byte{
			1, 1, 6, 'n', 'o', 'd', 'e', '-', 'b', 0xac, 0x02, 0, 7,
			byte(opSet), 1, 'k', 0, 2, 0x04, 0x05,
			byte(opSet), 1, 'k', 1,
			byte(opRemove), 1, 'k',
			byte(opSend), 2, 'h', 'i', 0, 1, 0x01,
			byte(opSend), 1, 'h', 1, 0,
			byte(opClear),
			byte(opUse), 0,
		},
	},
	{
		name: "empty batch",
		bt:   &batch{},
		raw:  []byte{1, 1, 0, 0, 0, 0},
	},
	{
		name: "snapshot",
		snap: &snapshot{version: 5, created: true, attrs: []snapAttr{{key: "a", value: []byte{0x01}}, {key: "b", value: []byte{0x04, 0x05}}}},
		raw:  []byte{1, 2, 5, 1, 2, 1, 'a', 1, 0x01, 1, 'b', 2, 0x04, 0x05},
	},
	{
		name: "restore",
		bt: &batch{node: "c", session: 1, req: 3, ops: []op{
			{kind: opRestore, base: 300, create: true},
			{kind: opSet, key: "k", value: []byte{0x04, 0x05}},
		}},
		raw: []byte{1, 1, 1, 'c', 1, 3, 2, byte(opRestore), 0xac, 0x02, 1, byte(opSet), 1, 'k', 0, 2, 0x04, 0x05},
	},
	{
		name: "tombstone",
		snap: &snapshot{version: 301, dropped: true},
		raw:  []byte{1, 2, 0xad, 0x02, snapDropped, 0},
	},
	{
		name: "snapshot after a restore",
		snap: &snapshot{version: 9, created: true, restored: 7, attrs: []snapAttr{{key: "a", value: []byte{0x01}}}},
		raw:  []byte{1, 2, 9, snapCreated | snapRestored, 7, 1, 1, 'a', 1, 0x01},
	},
	{
		name: "empty snapshot",
		snap: &snapshot{version: 1000},
		raw:  []byte{1, 2, 0xe8, 0x07, 0, 0},
	},
}

func TestRecordDecode(t *testing.T) {
	for _, tc := range recordCases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.bt != nil {
				got, err := decodeBatch(tc.raw)
				if err != nil {
					t.Fatalf("decodeBatch: %v", err)
				}
				if !reflect.DeepEqual(&got, tc.bt) {
					t.Errorf("decodeBatch = %+v, want %+v", got, *tc.bt)
				}
				return
			}
			got, err := decodeSnapshot(tc.raw)
			if err != nil {
				t.Fatalf("decodeSnapshot: %v", err)
			}
			if !reflect.DeepEqual(&got, tc.snap) {
				t.Errorf("decodeSnapshot = %+v, want %+v", got, *tc.snap)
			}
		})
	}
}

func TestRecordEncode(t *testing.T) {
	for _, tc := range recordCases {
		t.Run(tc.name, func(t *testing.T) {
			var got []byte
			if tc.bt != nil {
				got = tc.bt.appendTo(nil)
			} else {
				got = tc.snap.appendTo(nil)
			}
			if !reflect.DeepEqual(got, tc.raw) {
				t.Errorf("appendTo = %v, want %v", got, tc.raw)
			}
		})
	}
}

func TestRecordDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  []byte
		snap bool
	}{
		{"empty", nil, false},
		{"unknown format", []byte{2, 1, 0, 0, 0, 0}, false},
		{"snapshot as batch", []byte{1, 2, 0, 0, 0}, false},
		{"batch as snapshot", []byte{1, 1, 0, 0, 0, 0}, true},
		{"trailing bytes", []byte{1, 1, 0, 0, 0, 0, 9}, false},
		{"truncated node", []byte{1, 1, 5, 'a'}, false},
		{"op count past end", []byte{1, 1, 0, 0, 0, 9, byte(opClear)}, false},
		{"unknown op", []byte{1, 1, 0, 0, 0, 1, 9}, false},
		{"bad flag", []byte{1, 1, 0, 0, 0, 1, byte(opUse), 2}, false},
		{"truncated value", []byte{1, 1, 0, 0, 0, 1, byte(opSet), 1, 'k', 0, 5, 1}, false},
		{"unknown snapshot flag", []byte{1, 2, 1, 8, 0}, true},
		{"truncated restore base", []byte{1, 1, 0, 0, 0, 1, byte(opRestore)}, false},
		{"huge attribute count", []byte{1, 2, 1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}, true},
		{"bad uvarint", []byte{1, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.snap {
				_, err = decodeSnapshot(tc.raw)
			} else {
				_, err = decodeBatch(tc.raw)
			}
			if !errors.Is(err, errRecord) {
				t.Errorf("decode(%v) error = %v, want errRecord", tc.raw, err)
			}
		})
	}
}

func FuzzDecodeRecord(f *testing.F) {
	for _, tc := range recordCases {
		f.Add(tc.raw)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if bt, err := decodeBatch(b); err == nil {
			again, err := decodeBatch(bt.appendTo(nil))
			if err != nil {
				t.Fatalf("decode of re-encoded batch: %v", err)
			}
			if !reflect.DeepEqual(bt, again) {
				t.Fatalf("batch changed by re-encoding: %+v, then %+v", bt, again)
			}
		}
		if s, err := decodeSnapshot(b); err == nil {
			again, err := decodeSnapshot(s.appendTo(nil))
			if err != nil {
				t.Fatalf("decode of re-encoded snapshot: %v", err)
			}
			if !reflect.DeepEqual(s, again) {
				t.Fatalf("snapshot changed by re-encoding: %+v, then %+v", s, again)
			}
		}
	})
}
