package rtmpface

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/shoal-live/shoal/internal/rtmp/somsg"
	"github.com/shoal-live/shoal/internal/sharedobject"
)

// TestEncCache checks that the listeners of one batch share one encoding
// per object encoding, and that nothing else does.
func TestEncCache(t *testing.T) {
	obj := sharedobject.ObjectID{Scope: "app", Name: "ball"}
	events := func() []sharedobject.Event {
		return []sharedobject.Event{{Type: somsg.Change, Key: "x", Value: 1.0}}
	}
	var c encCache
	same := func(a, b []byte) bool { return len(a) > 0 && len(b) > 0 && &a[0] == &b[0] }
	body := func(version uint64, evs []sharedobject.Event, amf3 bool) []byte {
		t.Helper()
		b, err := c.body(obj, version, evs, amf3)
		if err != nil {
			t.Fatalf("body: %v", err)
		}
		got, err := somsg.Decode(b, amf3)
		if err != nil {
			t.Fatalf("decode the body: %v", err)
		}
		want := &somsg.Message{Name: obj.Name, Version: uint32(version), Events: evs}
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("decoded body (-want +got):\n%s", diff)
		}
		return b
	}
	batch := events()
	first := body(2, batch, true)
	if !same(first, body(2, batch, true)) {
		t.Errorf("the same events slice was encoded twice")
	}
	if same(first, body(2, batch, false)) {
		t.Errorf("AMF0 and AMF3 share a body")
	}
	if !same(first, body(2, batch, true)) {
		t.Errorf("the AMF0 encoding evicted the AMF3 one")
	}
	if same(first, body(2, events(), true)) {
		t.Errorf("another slice with equal events got the cached body")
	}
	if same(first, body(3, batch, true)) {
		t.Errorf("another version got the cached body")
	}
}
