package somsg

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/shoal-live/shoal/internal/rtmp/amf"
)

// raw joins hex parts ("00 0b") and text parts (prefixed with a quote:
// "'BallControl") into bytes.
func raw(parts ...string) []byte {
	var b []byte
	for _, p := range parts {
		if text, ok := strings.CutPrefix(p, "'"); ok {
			b = append(b, text...)
			continue
		}
		h, err := hex.DecodeString(strings.ReplaceAll(p, " ", ""))
		if err != nil {
			panic(err)
		}
		b = append(b, h...)
	}
	return b
}

// ball is the header of the transient object "BallControl" at version v
// (v given as 8 hex digits).
func ball(v string) string {
	return "000b" + hex.EncodeToString([]byte("BallControl")) + v + "00000000 00000000"
}

var ballCoordinates = amf.Object{{Key: "x", Value: 100.0}, {Key: "y", Value: 200.0}}

const (
	ballAMF0 = "03 0001 78 00 4059000000000000 0001 79 00 4069000000000000 000009"
	ballAMF3 = "0a 0b 01 03 78 05 4059000000000000 03 79 05 4069000000000000 01"
)

// codecCases drive TestDecode, TestAppend and the seeds of FuzzDecode. The
// first six are the example bytes of reference/red5-shared-objects.md §1.4.
var codecCases = []struct {
	name string
	amf3 bool
	msg  Message
	raw  []byte
	// decodeOnly marks bytes that decode to msg but that Append writes
	// differently (unknown events, foreign flags).
	decodeOnly bool
}{
	{
		name: "use",
		msg:  Message{Name: "BallControl", Events: []Event{{Type: Use}}},
		raw:  raw("00 0b", "'BallControl", "00 00 00 00", "00 00 00 00", "00 00 00 00", "01 00 00 00 00"),
	},
	{
		name: "request change ballCoordinates",
		msg: Message{Name: "BallControl", Version: 5, Events: []Event{
			{Type: RequestChange, Key: "ballCoordinates", Value: ballCoordinates},
		}},
		raw: raw("00 0b", "'BallControl", "00 00 00 05 00 00 00 00 00 00 00 00",
			"03 00 00 00 2d  00 0f", "'ballCoordinates",
			"03 00 01 78 00 40 59 00 00 00 00 00 00  00 01 79 00 40 69 00 00 00 00 00 00  00 00 09"),
	},
	{
		name: "success",
		msg:  Message{Name: "BallControl", Version: 6, Events: []Event{{Type: Success, Key: "ballCoordinates"}}},
		raw:  raw(ball("00000006"), "05 00 00 00 11 00 0f", "'ballCoordinates"),
	},
	{
		name: "change",
		msg: Message{Name: "BallControl", Version: 6, Events: []Event{
			{Type: Change, Key: "ballCoordinates", Value: ballCoordinates},
		}},
		raw: raw(ball("00000006"), "04 00 00 00 2d 00 0f", "'ballCoordinates", ballAMF0),
	},
	{
		name: "send message",
		msg: Message{Name: "BallControl", Events: []Event{
			{Type: SendMessage, Handler: "newMessage", Args: []any{"hi"}},
		}},
		raw: raw(ball("00000000"), "06 00 00 00 12 02 00 0a", "'newMessage", "02 00 02", "'hi"),
	},
	{
		name: "status no write access",
		msg: Message{Name: "BallControl", Events: []Event{
			{Type: Status, Code: CodeNoWriteAccess, Level: LevelError},
		}},
		raw: raw(ball("00000000"), "07 00 00 00 23 00 1a", "'SharedObject.NoWriteAccess", "00 05", "'error"),
	},
	{
		name: "release",
		msg:  Message{Name: "BallControl", Events: []Event{{Type: Release}}},
		raw:  raw(ball("00000000"), "02 00000000"),
	},
	{
		name: "clear",
		msg:  Message{Name: "BallControl", Version: 1, Events: []Event{{Type: Clear}}},
		raw:  raw(ball("00000001"), "08 00000000"),
	},
	{
		name: "remove",
		msg:  Message{Name: "BallControl", Version: 9, Events: []Event{{Type: Remove, Key: "k"}}},
		raw:  raw(ball("00000009"), "09 00000003 0001", "'k"),
	},
	{
		name: "request remove",
		msg:  Message{Name: "BallControl", Events: []Event{{Type: RequestRemove, Key: "k"}}},
		raw:  raw(ball("00000000"), "0a 00000003 0001", "'k"),
	},
	{
		name: "use success, clear and initial data",
		msg: Message{Name: "BallControl", Version: 7, Events: []Event{
			{Type: UseSuccess},
			{Type: Clear},
			{Type: Change, Key: "ballCoordinates", Value: ballCoordinates},
			{Type: Change, Key: "n", Value: nil},
		}},
		raw: raw(ball("00000007"), "0b 00000000", "08 00000000",
			"04 0000002d 000f", "'ballCoordinates", ballAMF0,
			"04 00000004 0001", "'n", "05"),
	},
	{
		name: "persistent",
		msg:  Message{Name: "scores", Version: 3, Persistent: true, Events: []Event{{Type: Use}}},
		raw:  raw("0006", "'scores", "00000003 00000002 00000000", "01 00000000"),
	},
	{
		name: "no events",
		msg:  Message{Name: ""},
		raw:  raw("0000 00000000 00000000 00000000"),
	},
	{
		name: "change with several pairs",
		msg: Message{Name: "BallControl", Events: []Event{{Type: Change, Pairs: []amf.Property{
			{Key: "a", Value: 1.0}, {Key: "b", Value: true},
		}}}},
		raw: raw(ball("00000000"), "04 00000011", "0001", "'a", "00 3ff0000000000000", "0001", "'b", "01 01"),
	},
	{
		name: "send message without args",
		msg: Message{Name: "BallControl", Events: []Event{
			{Type: SendMessage, Handler: "ping", Args: []any{nil}},
		}},
		raw: raw(ball("00000000"), "06 00000008 02 0004", "'ping", "05"),
	},
	{
		name: "send message with empty args",
		msg: Message{Name: "BallControl", Events: []Event{
			{Type: SendMessage, Handler: "ping", Args: []any{}},
		}},
		raw: raw(ball("00000000"), "06 00000007 02 0004", "'ping"),
	},
	{
		name: "success with value",
		msg:  Message{Name: "BallControl", Events: []Event{{Type: Success, Key: "k", Value: "v"}}},
		raw:  raw(ball("00000000"), "05 00000007 0001", "'k", "02 0001", "'v"),
	},
	{
		name: "request change to null",
		msg:  Message{Name: "BallControl", Events: []Event{{Type: RequestChange, Key: "k", Value: nil}}},
		raw:  raw(ball("00000000"), "03 00000004 0001", "'k", "05"),
	},
	{
		name: "amf3 switch inside amf0",
		msg: Message{Name: "BallControl", Events: []Event{
			{Type: RequestChange, Key: "b", Value: amf.ByteArray{1, 2}},
		}},
		raw: raw(ball("00000000"), "03 00000008 0001", "'b", "11 0c 05 01 02"),
	},

	// AMF3 (type 16 bodies without their leading byte).
	{
		name: "amf3 use",
		amf3: true,
		msg:  Message{Name: "BallControl", Events: []Event{{Type: Use}}},
		raw:  raw(ball("00000000"), "01 00000000"),
	},
	{
		name: "amf3 release",
		amf3: true,
		msg:  Message{Name: "BallControl", Events: []Event{{Type: Release}}},
		raw:  raw(ball("00000000"), "02 00000000"),
	},
	{
		name: "amf3 request change ballCoordinates",
		amf3: true,
		msg: Message{Name: "BallControl", Version: 5, Events: []Event{
			{Type: RequestChange, Key: "ballCoordinates", Value: ballCoordinates},
		}},
		raw: raw(ball("00000005"), "03 0000002b 000f", "'ballCoordinates", ballAMF3),
	},
	{
		name: "amf3 change",
		amf3: true,
		msg: Message{Name: "BallControl", Version: 6, Events: []Event{
			{Type: Change, Key: "ballCoordinates", Value: ballCoordinates},
			{Type: Change, Key: "n", Value: int32(5)},
		}},
		raw: raw(ball("00000006"), "04 0000002b 000f", "'ballCoordinates", ballAMF3,
			"04 00000005 0001", "'n", "04 05"),
	},
	{
		name: "amf3 success",
		amf3: true,
		msg:  Message{Name: "BallControl", Version: 6, Events: []Event{{Type: Success, Key: "ballCoordinates"}}},
		raw:  raw(ball("00000006"), "05 00 00 00 11 00 0f", "'ballCoordinates"),
	},
	{
		name: "amf3 send message",
		amf3: true,
		msg: Message{Name: "BallControl", Events: []Event{
			{Type: SendMessage, Handler: "newMessage", Args: []any{"hi", "hi", int32(1)}},
		}},
		// The second "hi" is a reference: the args of one send share tables.
		raw: raw(ball("00000000"), "06 00000015 02 000a", "'newMessage", "06 05", "'hi", "06 00", "04 01"),
	},
	{
		name: "amf3 send message without args",
		amf3: true,
		msg: Message{Name: "BallControl", Events: []Event{
			{Type: SendMessage, Handler: "ping", Args: []any{nil}},
		}},
		raw: raw(ball("00000000"), "06 00000008 02 0004", "'ping", "01"),
	},
	{
		name: "amf3 status",
		amf3: true,
		msg: Message{Name: "BallControl", Events: []Event{
			{Type: Status, Code: CodeBadPersistence, Level: LevelError},
		}},
		raw: raw(ball("00000000"), "07 00000024 001b", "'SharedObject.BadPersistence", "0005", "'error"),
	},
	{
		name: "amf3 clear",
		amf3: true,
		msg:  Message{Name: "BallControl", Events: []Event{{Type: Clear}}},
		raw:  raw(ball("00000000"), "08 00000000"),
	},
	{
		name: "amf3 remove",
		amf3: true,
		msg:  Message{Name: "BallControl", Events: []Event{{Type: Remove, Key: "k"}}},
		raw:  raw(ball("00000000"), "09 00000003 0001", "'k"),
	},
	{
		name: "amf3 request remove",
		amf3: true,
		msg:  Message{Name: "BallControl", Events: []Event{{Type: RequestRemove, Key: "k"}}},
		raw:  raw(ball("00000000"), "0a 00000003 0001", "'k"),
	},
	{
		name: "amf3 use success",
		amf3: true,
		msg:  Message{Name: "BallControl", Events: []Event{{Type: UseSuccess}}},
		raw:  raw(ball("00000000"), "0b 00000000"),
	},
	{
		name: "amf3 change values have their own reference tables",
		amf3: true,
		msg: Message{Name: "BallControl", Events: []Event{
			{Type: Change, Key: "a", Value: "same"},
			{Type: Change, Key: "b", Value: "same"},
		}},
		raw: raw(ball("00000000"), "04 00000009 0001", "'a", "06 09", "'same",
			"04 00000009 0001", "'b", "06 09", "'same"),
	},

	// Decode only.
	{
		name:       "unknown event types are skipped",
		msg:        Message{Name: "BallControl", Events: []Event{{Type: Use}, {Type: Clear}}},
		raw:        raw(ball("00000000"), "01 00000000", "0d 00000003 aabbcc", "00 00000000", "08 00000000"),
		decodeOnly: true,
	},
	{
		name:       "foreign persistence bits",
		msg:        Message{Name: "so", Events: []Event{{Type: Use}}},
		raw:        raw("0002", "'so", "00000000 01000000 00000000", "01 00000000"),
		decodeOnly: true,
	},
	{
		name:       "persistent with other bits",
		msg:        Message{Name: "so", Persistent: true},
		raw:        raw("0002", "'so", "00000000 00000032 00000000"),
		decodeOnly: true,
	},
	{
		name:       "data of a no-data event is ignored",
		msg:        Message{Name: "so", Events: []Event{{Type: Use}}},
		raw:        raw("0002", "'so", "00000000 00000000 00000000", "01 00000002 abcd"),
		decodeOnly: true,
	},
	{
		name:       "empty change",
		msg:        Message{Name: "so", Events: []Event{{Type: Change}}},
		raw:        raw("0002", "'so", "00000000 00000000 00000000", "04 00000000"),
		decodeOnly: true,
	},
}

// valueOpts compares AMF values by content (see amf.Equal).
var valueOpts = cmp.Options{
	cmp.FilterPath(func(p cmp.Path) bool {
		return p.Last().Type() == reflect.TypeFor[any]()
	}, cmp.Comparer(amf.Equal)),
}

func TestDecode(t *testing.T) {
	for _, tc := range codecCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(tc.raw, tc.amf3)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if diff := cmp.Diff(&tc.msg, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Decode mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAppend(t *testing.T) {
	for _, tc := range codecCases {
		if tc.decodeOnly {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte{0xff}
			got, err := Append(prefix, &tc.msg, tc.amf3)
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			if !bytes.Equal(got[1:], tc.raw) || got[0] != 0xff {
				t.Errorf("Append =\n%x\nwant\n%x", got[1:], tc.raw)
			}
		})
	}
}

func TestAppendNilArgsWritesNull(t *testing.T) {
	m := &Message{Name: "so", Events: []Event{{Type: SendMessage, Handler: "ping"}}}
	got, err := Append(nil, m, false)
	if err != nil {
		t.Fatal(err)
	}
	want := raw("0002", "'so", "00000000 00000000 00000000", "06 00000008 02 0004", "'ping", "05")
	if !bytes.Equal(got, want) {
		t.Errorf("Append = %x, want %x", got, want)
	}
}

func TestAppendErrors(t *testing.T) {
	long := strings.Repeat("x", 1<<16)
	tests := []struct {
		name string
		msg  Message
		want error
	}{
		{"long name", Message{Name: long}, amf.ErrTooLong},
		{"long key", Message{Events: []Event{{Type: Change, Key: long}}}, amf.ErrTooLong},
		{"long status code", Message{Events: []Event{{Type: Status, Code: long}}}, amf.ErrTooLong},
		{"unknown type", Message{Events: []Event{{Type: 12}}}, ErrUnknownType},
		{"unencodable value", Message{Events: []Event{{Type: Change, Key: "k", Value: make(chan int)}}}, amf.ErrUnsupported},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := []byte{1, 2, 3}
			got, err := Append(dst, &tc.msg, false)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Append error = %v, want %v", err, tc.want)
			}
			if !bytes.Equal(got, dst) {
				t.Errorf("Append returned %x on error, want dst unchanged", got)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	head := "0002 736f 00000000 00000000 00000000"
	tests := []struct {
		name string
		raw  []byte
		want error
		msg  string // part of the error text
	}{
		{"empty", nil, ErrTruncated, "object name"},
		{"short name", raw("0005 6162"), ErrTruncated, "object name"},
		{"short header", raw("0002 736f 00000001 0000"), ErrTruncated, "header"},
		{"short event header", raw(head, "01 0000"), ErrTruncated, "event 0"},
		{"length past end", raw(head, "01 00000000", "03 00000009 0001 6b"), ErrTruncated, "event 1 (RequestChange)"},
		{"short key", raw(head, "09 00000003 0005 6b"), ErrTruncated, "event 0 (Remove): key"},
		{"status trailing bytes", raw(head, "07 00000007 0001 61 0001 62 ff"), ErrMalformed, "after level"},
		{"status missing level", raw(head, "07 00000003 0001 61"), ErrTruncated, "level"},
		{"handler not a string", raw(head, "06 00000009 00 3ff0000000000000"), ErrMalformed, "handler"},
		{"bad value marker", raw(head, "03 00000004 0001 6b ff"), amf.ErrUnknownMarker, `value of "k"`},
		{"value trailing bytes", raw(head, "03 00000005 0001 6b 05 05"), ErrMalformed, "after the value"},
		{"truncated change value", raw(head, "04 00000005 0001 6b 00 3f"), amf.ErrTruncated, `value of "k"`},
		{"bad send argument", raw(head, "06 00000006 02 0001 68 05 ff"), amf.ErrUnknownMarker, "argument 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Decode(tc.raw, false)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode(%x) = %+v, %v; want error %v", tc.raw, m, err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Decode error %q does not mention %q", err, tc.msg)
			}
		})
	}
}

func TestEventTypeString(t *testing.T) {
	for typ, want := range map[EventType]string{Use: "Use", UseSuccess: "UseSuccess", RequestRemove: "RequestRemove", 0: "EventType(0)", 12: "EventType(12)"} {
		if got := typ.String(); got != want {
			t.Errorf("EventType(%d).String() = %q, want %q", uint8(typ), got, want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, tc := range codecCases {
		f.Add(tc.raw, tc.amf3)
	}
	f.Fuzz(func(t *testing.T, b []byte, amf3 bool) {
		m1, err := Decode(b, amf3)
		if err != nil {
			return
		}
		b2, err := Append(nil, m1, amf3)
		if err != nil {
			t.Fatalf("Append of decoded %+v: %v", m1, err)
		}
		m2, err := Decode(b2, amf3)
		if err != nil {
			t.Fatalf("Decode of re-encoded %x: %v", b2, err)
		}
		if diff := cmp.Diff(m1, m2, valueOpts, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("re-decoded message differs (-first +second):\n%s", diff)
		}
		b3, err := Append(nil, m2, amf3)
		if err != nil {
			t.Fatalf("second Append: %v", err)
		}
		if !bytes.Equal(b2, b3) {
			t.Fatalf("encoding is not stable:\n%x\n%x", b2, b3)
		}
	})
}
