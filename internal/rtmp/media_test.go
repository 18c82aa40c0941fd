package rtmp

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// subMessage is one sub-message splitAggregate reports.
type subMessage struct {
	TypeID  uint8
	TS      uint32
	Payload []byte
}

// aggregateTag builds one aggregate sub-message with its back pointer.
func aggregateTag(typeID uint8, ts uint32, payload []byte) []byte {
	n := len(payload)
	b := []byte{typeID, byte(n >> 16), byte(n >> 8), byte(n), byte(ts >> 16), byte(ts >> 8), byte(ts), byte(ts >> 24), 0, 0, 0}
	b = append(b, payload...)
	size := n + aggregateTagHeader
	return append(b, byte(size>>24), byte(size>>16), byte(size>>8), byte(size))
}

func concat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

var aggregateCases = []struct {
	name    string
	body    []byte
	ts      uint32
	want    []subMessage
	wantErr bool
}{
	{
		name: "two tags rebased to the message timestamp",
		body: concat(aggregateTag(9, 1000, []byte{0x17, 1}), aggregateTag(8, 1020, []byte{0xaf, 1, 2})),
		ts:   50,
		want: []subMessage{{9, 50, []byte{0x17, 1}}, {8, 70, []byte{0xaf, 1, 2}}},
	},
	{
		name: "extended timestamps",
		body: concat(aggregateTag(9, 0x01000000, []byte{1}), aggregateTag(9, 0x01000040, []byte{2})),
		ts:   0x01000000,
		want: []subMessage{{9, 0x01000000, []byte{1}}, {9, 0x01000040, []byte{2}}},
	},
	{
		name: "last back pointer missing",
		body: aggregateTag(9, 0, []byte{1, 2})[:aggregateTagHeader+2],
		want: []subMessage{{9, 0, []byte{1, 2}}},
	},
	{name: "empty", body: nil},
	{name: "short header", body: []byte{9, 0, 0}, wantErr: true},
	{name: "size beyond body", body: []byte{9, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2}, wantErr: true},
}

func TestSplitAggregate(t *testing.T) {
	for _, tc := range aggregateCases {
		t.Run(tc.name, func(t *testing.T) {
			var got []subMessage
			err := splitAggregate(tc.body, tc.ts, func(typeID uint8, ts uint32, payload []byte) {
				got = append(got, subMessage{typeID, ts, payload})
			})
			if tc.wantErr {
				if !errors.Is(err, errBadAggregate) {
					t.Fatalf("splitAggregate error = %v, want errBadAggregate", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("splitAggregate: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("sub-messages (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzSplitAggregate(f *testing.F) {
	for _, tc := range aggregateCases {
		f.Add(tc.body, tc.ts)
	}
	f.Fuzz(func(t *testing.T, body []byte, ts uint32) {
		total := 0
		_ = splitAggregate(body, ts, func(_ uint8, _ uint32, payload []byte) {
			total += len(payload) + aggregateTagHeader
			if cap(payload) != len(payload) {
				t.Fatalf("payload cap %d > len %d: appending would overwrite the next tag", cap(payload), len(payload))
			}
		})
		if total > len(body) {
			t.Fatalf("sub-messages cover %d bytes of a %d-byte body", total, len(body))
		}
	})
}

// amf0Str encodes an AMF0 string.
func amf0Str(s string) []byte { return amf0String(s) }

var dataPayloadCases = []struct {
	name   string
	typeID uint8
	body   []byte
	want   []byte
	wantOK bool
}{
	{name: "onMetaData", typeID: 18, body: concat(amf0Str("onMetaData"), []byte{0x05}), want: concat(amf0Str("onMetaData"), []byte{0x05}), wantOK: true},
	{name: "setDataFrame unwrapped", typeID: 18, body: concat(amf0Str("@setDataFrame"), amf0Str("onMetaData"), []byte{0x05}), want: concat(amf0Str("onMetaData"), []byte{0x05}), wantOK: true},
	{name: "amf3 data", typeID: 15, body: concat([]byte{0}, amf0Str("@setDataFrame"), amf0Str("onTextData")), want: amf0Str("onTextData"), wantOK: true},
	{name: "clearDataFrame dropped", typeID: 18, body: amf0Str("@clearDataFrame"), wantOK: false},
	{name: "empty", typeID: 18, body: nil, wantOK: false},
	{name: "only setDataFrame", typeID: 18, body: amf0Str("@setDataFrame"), wantOK: false},
}

func TestDataPayload(t *testing.T) {
	for _, tc := range dataPayloadCases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := dataPayload(tc.typeID, tc.body)
			if ok != tc.wantOK {
				t.Fatalf("dataPayload ok = %v, want %v", ok, tc.wantOK)
			}
			if diff := cmp.Diff(tc.want, got); ok && diff != "" {
				t.Errorf("dataPayload (-want +got):\n%s", diff)
			}
		})
	}
}
