package cluster

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// subjectCases is the one table for encoding, decoding and fuzz seeds.
var subjectCases = []struct {
	name    string
	obj     ObjectID
	subject string
}{
	{name: "plain", obj: ObjectID{Scope: "live", Name: "ball", Persistent: true}, subject: "so.p.live.ball"},
	{name: "nested scope", obj: ObjectID{Scope: "live/room1", Name: "ball"}, subject: "so.t.live.room1.ball"},
	{name: "dot in name", obj: ObjectID{Scope: "live/room1", Name: "room1.ball"}, subject: "so.t.live.room1.room1_2Eball"},
	{name: "wildcards", obj: ObjectID{Scope: "a*", Name: ">"}, subject: "so.t.a_2A._3E"},
	{name: "space and underscore", obj: ObjectID{Scope: "my app", Name: "x_y"}, subject: "so.t.my_20app.x_5Fy"},
	{name: "empty name", obj: ObjectID{Scope: "live", Name: ""}, subject: "so.t.live._"},
	{name: "empty scope", obj: ObjectID{Scope: "", Name: "n"}, subject: "so.t._.n"},
	{name: "trailing slash", obj: ObjectID{Scope: "live/", Name: "n"}, subject: "so.t.live._.n"},
	{name: "leading slash", obj: ObjectID{Scope: "/live", Name: "n"}, subject: "so.t._.live.n"},
	{name: "utf-8", obj: ObjectID{Scope: "live", Name: "é"}, subject: "so.t.live._C3_A9"},
	{name: "control byte", obj: ObjectID{Scope: "live", Name: "a\x00b\tc"}, subject: "so.t.live.a_00b_09c"},
	{name: "case kept", obj: ObjectID{Scope: "Live", Name: "Ball-1"}, subject: "so.t.Live.Ball-1"},
	{name: "lone underscore name", obj: ObjectID{Scope: "live", Name: "_"}, subject: "so.t.live._5F"},
}

func TestObjectSubject(t *testing.T) {
	for _, tc := range subjectCases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ObjectSubject(tc.obj); got != tc.subject {
				t.Errorf("ObjectSubject(%+v) = %q, want %q", tc.obj, got, tc.subject)
			}
		})
	}
}

func TestParseObjectSubject(t *testing.T) {
	for _, tc := range subjectCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseObjectSubject(tc.subject)
			if err != nil {
				t.Fatalf("ParseObjectSubject(%q): %v", tc.subject, err)
			}
			if diff := cmp.Diff(tc.obj, got); diff != "" {
				t.Errorf("ParseObjectSubject(%q) mismatch (-want +got):\n%s", tc.subject, diff)
			}
		})
	}
}

func TestParseObjectSubject_Invalid(t *testing.T) {
	for _, subject := range []string{
		"", "so.", "so.p", "so.p.x", "x.p.a.b", "so.q.a.b", "so.p..b", "so.p.a.",
		"so.p.a.b_", "so.p.a.b_2", "so.p.a.b_2e", "so.p.a.b_41", "so.p.a.b_ZZ", "so.p.a.b*", "so.p.a.__",
	} {
		if _, err := ParseObjectSubject(subject); !errors.Is(err, ErrInvalidSubject) {
			t.Errorf("ParseObjectSubject(%q) = %v, want ErrInvalidSubject", subject, err)
		}
	}
}

func TestPresenceKeyTokenCount(t *testing.T) {
	// Object (live, room1) on node "ball" and object (live/room1, ball) on
	// node "x" must not be confused by the presence filter of either.
	a := ObjectID{Scope: "live", Name: "room1"}
	b := ObjectID{Scope: "live/room1", Name: "ball"}
	if presenceKey(a, "ball") == presenceKey(b, "x") {
		t.Fatalf("presence keys collide")
	}
	if matchFilter(presenceFilter(a), presenceKey(b, "x")) {
		t.Errorf("filter %q matches key %q of another object", presenceFilter(a), presenceKey(b, "x"))
	}
	if matchFilter(presenceFilter(b), presenceKey(a, "ball")) {
		t.Errorf("filter %q matches key %q of another object", presenceFilter(b), presenceKey(a, "ball"))
	}
	if !matchFilter(presenceFilter(a), presenceKey(a, "node.1")) {
		t.Errorf("filter %q does not match own key %q", presenceFilter(a), presenceKey(a, "node.1"))
	}
}

// matchFilter implements NATS '*' matching (no '>').
func matchFilter(filter, subject string) bool {
	f, s := strings.Split(filter, "."), strings.Split(subject, ".")
	if len(f) != len(s) {
		return false
	}
	for i := range f {
		if f[i] != "*" && f[i] != s[i] {
			return false
		}
	}
	return true
}

// validToken reports whether tok is a non-empty token of [A-Za-z0-9_-],
// valid in NATS subjects and in KV keys.
func validToken(tok string) bool {
	if tok == "" {
		return false
	}
	for i := 0; i < len(tok); i++ {
		if !plainByte(tok[i]) && tok[i] != '_' {
			return false
		}
	}
	return true
}

func FuzzObjectSubject(f *testing.F) {
	for _, tc := range subjectCases {
		f.Add(tc.obj.Scope, tc.obj.Name, tc.obj.Persistent)
	}
	f.Fuzz(func(t *testing.T, scope, name string, persistent bool) {
		obj := ObjectID{Scope: scope, Name: name, Persistent: persistent}
		subject := ObjectSubject(obj)
		tokens := strings.Split(subject, ".")
		if want := 3 + strings.Count(scope, "/") + 1; len(tokens) != want {
			t.Fatalf("ObjectSubject(%+v) = %q: %d tokens, want %d", obj, subject, len(tokens), want)
		}
		for _, tok := range tokens {
			if !validToken(tok) {
				t.Fatalf("ObjectSubject(%+v) = %q: invalid token %q", obj, subject, tok)
			}
		}
		got, err := ParseObjectSubject(subject)
		if err != nil {
			t.Fatalf("ParseObjectSubject(%q): %v", subject, err)
		}
		if got != obj {
			t.Fatalf("round trip of %+v gave %+v", obj, got)
		}
	})
}

func FuzzUnescapeToken(f *testing.F) {
	for _, tc := range subjectCases {
		f.Add(EscapeToken(tc.obj.Name))
		f.Add(tc.obj.Name)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		s, err := UnescapeToken(tok)
		if err != nil {
			return
		}
		// Only canonical tokens decode, so each string has one token:
		// distinct tokens never decode to the same string.
		if again := EscapeToken(s); again != tok {
			t.Fatalf("UnescapeToken(%q) = %q, which escapes to %q", tok, s, again)
		}
	})
}
