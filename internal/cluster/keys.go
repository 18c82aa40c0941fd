package cluster

import (
	"errors"
	"fmt"
	"strings"
)

// Every NATS subject, stream name and KV key this package uses is built here.
//
// Subject layout for shared objects:
//
//	so.p.<scope segment>...<scope segment>.<name>   persistent objects (stream SO_PERSISTENT)
//	so.t.<scope segment>...<scope segment>.<name>   transient objects (stream SO_TRANSIENT)
//
// The scope is split at '/' and every segment becomes one token; the name is
// always exactly one (the last) token. Tokens are escaped with escapeToken, so
// any UTF-8 (indeed any byte string) scope and name map to a valid subject,
// and distinct objects map to distinct subjects.
//
// Presence keys in the so_presence bucket are
//
//	<p|t>.<scope segment>...<name>.<node>
//
// and the presence of one object is the set of keys matching
// "<p|t>.<scope...>.<name>.*" (a '*' matches exactly one token, so the token
// count keeps objects with nested scopes apart).

const (
	// PersistentStream is the JetStream stream (file storage) holding the
	// change logs of persistent shared objects.
	PersistentStream = "SO_PERSISTENT"
	// TransientStream is the JetStream stream (memory storage) holding the
	// change logs of transient shared objects.
	TransientStream = "SO_TRANSIENT"
	// PresenceBucket is the KV bucket holding one key per (object, node).
	PresenceBucket = "so_presence"

	persistentKind = "p"
	transientKind  = "t"
	subjectPrefix  = "so."

	// snapshotHeader marks a message holding a whole state (a snapshot).
	snapshotHeader = "Shoal-Snapshot"
)

// ErrInvalidSubject is returned when a subject or key cannot be decoded back
// into an object identity.
var ErrInvalidSubject = errors.New("invalid subject")

// ObjectID names one shared object cluster-wide.
type ObjectID struct {
	// Scope is the application scope path, for example "live/room1".
	Scope string
	// Name is the shared object name; any UTF-8 string.
	Name string
	// Persistent selects file storage and the SO_PERSISTENT stream.
	Persistent bool
}

// String returns a readable form of the identity, for logs.
func (o ObjectID) String() string {
	kind := transientKind
	if o.Persistent {
		kind = persistentKind
	}
	return kind + ":" + o.Scope + "/" + o.Name
}

func (o ObjectID) kind() string {
	if o.Persistent {
		return persistentKind
	}
	return transientKind
}

// streamName returns the JetStream stream holding the object's log.
func streamName(o ObjectID) string {
	if o.Persistent {
		return PersistentStream
	}
	return TransientStream
}

// streamSubjects returns the subject filter bound to a stream.
func streamSubjects(persistent bool) string {
	if persistent {
		return subjectPrefix + persistentKind + ".>"
	}
	return subjectPrefix + transientKind + ".>"
}

// objectKey returns "<kind>.<scope tokens>.<name token>", the part shared by
// the log subject and the presence keys.
func objectKey(o ObjectID) string {
	var b strings.Builder
	b.Grow(len(o.Scope) + len(o.Name) + 8)
	b.WriteString(o.kind())
	for seg := range strings.SplitSeq(o.Scope, "/") {
		b.WriteByte('.')
		appendToken(&b, seg)
	}
	b.WriteByte('.')
	appendToken(&b, o.Name)
	return b.String()
}

// ObjectSubject returns the NATS subject carrying the object's change log.
func ObjectSubject(o ObjectID) string {
	return subjectPrefix + objectKey(o)
}

// ParseObjectSubject is the inverse of ObjectSubject.
func ParseObjectSubject(subject string) (ObjectID, error) {
	rest, ok := strings.CutPrefix(subject, subjectPrefix)
	if !ok {
		return ObjectID{}, fmt.Errorf("parse object subject %q: missing %q prefix: %w", subject, subjectPrefix, ErrInvalidSubject)
	}
	o, err := parseObjectKey(strings.Split(rest, "."))
	if err != nil {
		return ObjectID{}, fmt.Errorf("parse object subject %q: %w", subject, err)
	}
	return o, nil
}

// parseObjectKey decodes the tokens "<kind>", scope segments..., "<name>".
func parseObjectKey(tokens []string) (ObjectID, error) {
	if len(tokens) < 3 {
		return ObjectID{}, fmt.Errorf("%d tokens, want at least 3: %w", len(tokens), ErrInvalidSubject)
	}
	var o ObjectID
	switch tokens[0] {
	case persistentKind:
		o.Persistent = true
	case transientKind:
	default:
		return ObjectID{}, fmt.Errorf("unknown kind %q: %w", tokens[0], ErrInvalidSubject)
	}
	segs := make([]string, 0, len(tokens)-2)
	for _, tok := range tokens[1 : len(tokens)-1] {
		seg, err := unescapeToken(tok)
		if err != nil {
			return ObjectID{}, err
		}
		segs = append(segs, seg)
	}
	name, err := unescapeToken(tokens[len(tokens)-1])
	if err != nil {
		return ObjectID{}, err
	}
	o.Scope = strings.Join(segs, "/")
	o.Name = name
	return o, nil
}

// presenceKey returns the KV key telling that node has clients of o.
func presenceKey(o ObjectID, node string) string {
	return objectKey(o) + "." + EscapeToken(node)
}

// presenceFilter returns the KV key filter matching every node's key for o.
func presenceFilter(o ObjectID) string {
	return objectKey(o) + ".*"
}

// kvSubject returns the stream subject under which the KV bucket stores key.
func kvSubject(bucket, key string) string {
	return "$KV." + bucket + "." + key
}

// kvStream returns the name of the stream backing a KV bucket.
func kvStream(bucket string) string {
	return "KV_" + bucket
}

// EscapeToken maps any string to a non-empty token made only of
// [A-Za-z0-9_-], valid both in NATS subjects and in KV keys. Letters, digits
// and '-' stand for themselves; every other byte is written "_HH" with two
// upper-case hex digits; the empty string is written "_". The mapping is
// injective and UnescapeToken inverts it.
func EscapeToken(s string) string {
	var b strings.Builder
	appendToken(&b, s)
	return b.String()
}

const hexDigits = "0123456789ABCDEF"

func plainByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-'
}

func appendToken(b *strings.Builder, s string) {
	if s == "" {
		b.WriteByte('_')
		return
	}
	plain := true
	for i := 0; i < len(s); i++ {
		if !plainByte(s[i]) {
			plain = false
			break
		}
	}
	if plain {
		b.WriteString(s)
		return
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if plainByte(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('_')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0x0f])
	}
}

// UnescapeToken inverts EscapeToken. It accepts only the canonical form
// EscapeToken produces (upper-case hex, no escaped plain bytes), so every
// string has exactly one token.
func UnescapeToken(tok string) (string, error) {
	s, err := unescapeToken(tok)
	if err != nil {
		return "", fmt.Errorf("unescape token: %w", err)
	}
	return s, nil
}

func unescapeToken(tok string) (string, error) {
	switch tok {
	case "":
		return "", fmt.Errorf("empty token: %w", ErrInvalidSubject)
	case "_":
		return "", nil
	}
	if !strings.Contains(tok, "_") {
		for i := 0; i < len(tok); i++ {
			if !plainByte(tok[i]) {
				return "", fmt.Errorf("token %q: byte %#x at %d: %w", tok, tok[i], i, ErrInvalidSubject)
			}
		}
		return tok, nil
	}
	out := make([]byte, 0, len(tok))
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if plainByte(c) {
			out = append(out, c)
			continue
		}
		if c != '_' || i+2 >= len(tok) {
			return "", fmt.Errorf("token %q: bad byte or truncated escape at %d: %w", tok, i, ErrInvalidSubject)
		}
		hi, lo := unhex(tok[i+1]), unhex(tok[i+2])
		if hi < 0 || lo < 0 {
			return "", fmt.Errorf("token %q: bad escape at %d: %w", tok, i, ErrInvalidSubject)
		}
		v := byte(hi<<4 | lo)
		if plainByte(v) {
			return "", fmt.Errorf("token %q: escaped plain byte %q at %d: %w", tok, v, i, ErrInvalidSubject)
		}
		out = append(out, v)
		i += 2
	}
	return string(out), nil
}

// unhex decodes one upper-case hex digit, or returns -1.
func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
