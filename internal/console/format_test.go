package console

import (
	"strings"
	"testing"
	"time"

	"github.com/shoal-live/shoal/internal/rtmp/amf"
)

func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		name      string
		v         any
		typ, text string
	}{
		{"null", nil, "null", "null"},
		{"undefined", amf.Undefined{}, "undefined", "undefined"},
		{"bool", true, "boolean", "true"},
		{"double", 1.5, "number", "1.5"},
		{"integer", int32(-7), "number", "-7"},
		{"string", "a \"b\"\n", "string", `"a \"b\"\n"`},
		{"object", amf.Object{{Key: "x", Value: 1.0}, {Key: "y", Value: "z"}}, "object", `{x: 1, y: "z"}`},
		{"typed", &amf.TypedObject{Class: "Point", Props: amf.Object{{Key: "x", Value: 2.0}}}, "Point", "Point{x: 2}"},
		{"ecma", amf.ECMAArray{{Key: "0", Value: true}}, "object", "{0: true}"},
		{"strict", amf.StrictArray{1.0, "a"}, "array", `[1, "a"]`},
		{"mixed", &amf.Array{Dense: []any{1.0}, Assoc: []amf.Property{{Key: "k", Value: 2.0}}}, "array", "[1] + {k: 2}"},
		{"date", amf.DateOf(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)), "date", "2026-01-02T03:04:05Z"},
		{"bytes", amf.ByteArray{1, 2, 3}, "bytearray", "<3 bytes>"},
		{"xml", amf.XML("<a/>"), "xml", `"<a/>"`},
		{"vector", &amf.Vector{Kind: amf.VectorInt, Items: []any{int32(1), int32(2)}}, "vector", "[1, 2]"},
		{"dictionary", &amf.Dictionary{Entries: []amf.DictEntry{{Key: "k", Value: 1.0}}}, "dictionary", `Dictionary{"k": 1}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			typ, text := describe(tc.v)
			if typ != tc.typ || text != tc.text {
				t.Errorf("describe(%#v) = %q, %q, want %q, %q", tc.v, typ, text, tc.typ, tc.text)
			}
		})
	}
}

func TestDescribeLimits(t *testing.T) {
	deep := any(1.0)
	for range 20 {
		deep = amf.StrictArray{deep}
	}
	if _, text := describe(deep); !strings.Contains(text, "…") || strings.Count(text, "[") > maxValueDepth+1 {
		t.Errorf("describe(20 nested arrays) = %q, want it cut at depth %d", text, maxValueDepth)
	}
	long := make(amf.StrictArray, 5000)
	for i := range long {
		long[i] = "value"
	}
	if _, text := describe(long); len(text) > maxValueText+len("…") || !strings.HasSuffix(text, "…") {
		t.Errorf("describe(5000 strings) is %d bytes, want at most %d and an ellipsis", len(text), maxValueText)
	}
}

func TestStateChangedSince(t *testing.T) {
	s := newState(3)
	ch := s.subscribe()
	<-ch // the initial signal
	s.publish(map[string][]byte{secFleet: []byte(`{"a":1}`), secTick: []byte(`1`)})
	select {
	case <-ch:
	default:
		t.Fatal("no signal after a change")
	}
	sent := map[string]uint64{}
	if got := string(s.changedSince(sent)); got != `{"fleet":{"a":1},"tick":1}` {
		t.Errorf("first changedSince = %s", got)
	}
	if got := s.changedSince(sent); got != nil {
		t.Errorf("changedSince with nothing new = %s, want nil", got)
	}
	s.publish(map[string][]byte{secFleet: []byte(`{"a":1}`), secTick: []byte(`2`)})
	if got := string(s.changedSince(sent)); got != `{"tick":2}` {
		t.Errorf("changedSince after a tick = %s, want only the tick", got)
	}
	s.publish(map[string][]byte{secFleet: []byte(`{"a":1}`)})
	select {
	case <-ch:
		// The signal of the tick change; nothing else may be pending.
	default:
	}
	select {
	case <-ch:
		t.Error("signal for an unchanged section")
	default:
	}
	s.unsubscribe(ch)
	if s.subscribers() != 0 {
		t.Errorf("subscribers() = %d after unsubscribe", s.subscribers())
	}

	r := newRing(3)
	for i := range 5 {
		r.add(point{T: int64(i), V: float64(i)})
	}
	if got := r.last(0); len(got) != 3 || got[0].T != 2 || got[2].T != 4 {
		t.Errorf("ring.last(0) = %v, want points 2..4", got)
	}
	if got := r.last(2); len(got) != 2 || got[0].T != 3 {
		t.Errorf("ring.last(2) = %v, want points 3..4", got)
	}
}
