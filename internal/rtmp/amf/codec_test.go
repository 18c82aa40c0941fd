package amf

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// direction says which way a codec case is checked.
type direction int

const (
	both       direction = iota // decode and encode, byte-exact
	decodeOnly                  // the encoder writes these bytes differently
	encodeOnly                  // the decoder returns another Go type
)

// seq is a case value holding several consecutive values of one message.
type seq []any

// codecCase is one row of a codec table: value and its bytes.
type codecCase struct {
	name  string
	value any
	raw   []byte
	only  direction
}

// values returns the values a case encodes or decodes to.
func (tc codecCase) values() []any {
	if s, ok := tc.value.(seq); ok {
		return s
	}
	return []any{tc.value}
}

// x parses hex bytes, ignoring spaces; quoted runs ('abc') are literal text.
func x(s string) []byte {
	var b []byte
	for i, part := range strings.Split(s, "'") {
		if i%2 == 1 {
			b = append(b, part...)
			continue
		}
		h, err := hex.DecodeString(strings.Join(strings.Fields(part), ""))
		if err != nil {
			panic("bad hex in test table: " + s)
		}
		b = append(b, h...)
	}
	return b
}

// cat concatenates byte slices.
func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

var cmpOpts = []cmp.Option{cmpopts.EquateNaNs(), cmpopts.EquateEmpty()}

var fuzzLimits = Limits{MaxTotalItems: 1 << 16}

// maxSeedLen leaves the long-string cases out of the fuzz seeds: the fuzzer
// spends minutes minimizing mutants of 64 KiB inputs. The tables test those
// cases directly.
const maxSeedLen = 1024

type unmarshalFunc func([]byte) ([]any, error)

type marshalFunc func(...any) ([]byte, error)

func testDecode(t *testing.T, cases []codecCase, unmarshal unmarshalFunc) {
	t.Helper()
	for _, tc := range cases {
		if tc.only == encodeOnly {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			got, err := unmarshal(tc.raw)
			if err != nil {
				t.Fatalf("unmarshal(% x): %v", tc.raw, err)
			}
			if diff := cmp.Diff(tc.values(), got, cmpOpts...); diff != "" {
				t.Errorf("unmarshal(% x) mismatch (-want +got):\n%s", tc.raw, diff)
			}
		})
	}
}

func testEncode(t *testing.T, cases []codecCase, marshal marshalFunc) {
	t.Helper()
	for _, tc := range cases {
		if tc.only == decodeOnly {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			got, err := marshal(tc.values()...)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			if !bytes.Equal(got, tc.raw) {
				t.Errorf("marshal = % x\nwant       % x", got, tc.raw)
			}
		})
	}
}

// testTruncated checks that every proper prefix of every case fails to
// decode with ErrTruncated, or decodes fewer values than the whole.
func testTruncated(t *testing.T, cases []codecCase, newDecoder func([]byte, Limits) *Decoder) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := len(tc.values())
			for i := range len(tc.raw) {
				d := newDecoder(tc.raw[:i], DefaultLimits)
				n := 0
				var err error
				for err == nil && (d.More() || n == 0) {
					_, err = d.Decode()
					n++
				}
				if err == nil && n >= want {
					t.Fatalf("decode of %d of %d bytes succeeded", i, len(tc.raw))
				}
				if err != nil && !errors.Is(err, ErrTruncated) {
					t.Fatalf("decode of %d of %d bytes: %v, want ErrTruncated", i, len(tc.raw), err)
				}
			}
		})
	}
}

// checkRoundTrip is the fuzz property: decoding never panics, what decodes
// re-encodes, and the re-encoding decodes to Equal values.
//
// It uses fuzzLimits: DefaultLimits let a small input expand through
// references into tens of megabytes, which is safe but slows fuzzing.
func checkRoundTrip(t *testing.T, b []byte, newDecoder func([]byte, Limits) *Decoder, marshal marshalFunc) {
	t.Helper()
	unmarshal := func(b []byte) ([]any, error) { return unmarshal(newDecoder(b, fuzzLimits)) }
	vs, err := unmarshal(b)
	if err != nil {
		if de := (*DecodeError)(nil); !errors.As(err, &de) {
			t.Fatalf("unmarshal error %v is not a *DecodeError", err)
		}
		return
	}
	raw, err := marshal(vs...)
	if err != nil {
		t.Fatalf("marshal of decoded values: %v", err)
	}
	vs2, err := unmarshal(raw)
	if err != nil {
		t.Fatalf("unmarshal of re-encoding % x: %v", raw, err)
	}
	if len(vs2) != len(vs) {
		t.Fatalf("re-decoded %d values, want %d", len(vs2), len(vs))
	}
	for i := range vs {
		if !Equal(vs[i], vs2[i]) {
			t.Fatalf("value %d changed through re-encoding:\n%s", i, cmp.Diff(vs[i], vs2[i], cmpOpts...))
		}
	}
}
