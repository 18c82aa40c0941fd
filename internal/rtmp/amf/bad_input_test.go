package amf

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"testing"
)

// badCase is input that must fail to decode with err.
type badCase struct {
	name   string
	raw    []byte
	amf3   bool
	limits Limits
	err    error
	msg    string // a substring of the error message, if set
}

func (bc badCase) decode() error {
	newDecoder := NewDecoder
	if bc.amf3 {
		newDecoder = NewDecoder3
	}
	limits := bc.limits
	if limits == (Limits{}) {
		limits = DefaultLimits
	}
	d := newDecoder(bc.raw, limits)
	for {
		_, err := d.Decode()
		if err != nil || !d.More() {
			return err
		}
	}
}

// nested repeats open n times around leaf.
func nested(open string, n int, leaf string) []byte {
	return cat(bytes.Repeat(x(open), n), x(leaf))
}

// refChain0 is an AMF0 strict array of levels: level 0 holds a string,
// every later level holds refsPerLevel references to the level before.
func refChain0(levels, refsPerLevel int) []byte {
	b := x("0a")
	b = append(b, byte(levels>>24), byte(levels>>16), byte(levels>>8), byte(levels))
	b = append(b, x("0a 00000001 02 0010 '0123456789abcdef'")...)
	for i := 1; i < levels; i++ {
		b = append(b, 0x0a, 0, 0, 0, byte(refsPerLevel))
		for range refsPerLevel {
			b = append(b, 0x07, byte(i>>8), byte(i)) // level i-1 is object i
		}
	}
	return b
}

// refChain3 is refChain0 in AMF3.
func refChain3(levels, refsPerLevel int) []byte {
	b := appendU29(x("09"), uint32(levels)<<1|1)
	b = append(b, x("01 09 03 01 06 21 '0123456789abcdef'")...)
	for i := 1; i < levels; i++ {
		b = append(b, 0x09, byte(refsPerLevel<<1|1), 0x01)
		for range refsPerLevel {
			b = append(b, 0x09)
			b = appendU29(b, uint32(i)<<1)
		}
	}
	return b
}

var badCases = []badCase{
	// Unknown and reserved markers.
	{name: "amf0 unknown marker", raw: x("12"), err: ErrUnknownMarker, msg: "amf0: value at offset 0: marker 0x12"},
	{name: "amf0 marker 0xff", raw: x("ff"), err: ErrUnknownMarker},
	{name: "amf0 movieclip", raw: x("04"), err: ErrUnknownMarker, msg: "reserved movieclip"},
	{name: "amf0 recordset", raw: x("0e"), err: ErrUnknownMarker, msg: "reserved recordset"},
	{name: "amf0 object end as value", raw: x("09"), err: ErrUnknownMarker},
	{
		name: "amf0 unknown marker in object",
		raw:  x("03 0001 'a' ff"),
		err:  ErrUnknownMarker,
		msg:  `amf0: object property "a" at offset 4: marker 0xff`,
	},
	{name: "amf3 unknown marker", raw: x("12"), amf3: true, err: ErrUnknownMarker},
	{name: "amf3 marker 0xff in array", raw: x("09 03 01 ff"), amf3: true, err: ErrUnknownMarker, msg: "array item 0"},
	{name: "amf0 avmplus unknown amf3 marker", raw: x("11 12"), err: ErrUnknownMarker},

	// Truncation with context.
	{
		name: "amf0 BallControl truncated",
		raw:  x("03 0001 'x' 00 40590000"),
		err:  ErrTruncated,
		msg:  `amf0: object property "x" at offset 4: truncated`,
	},
	{name: "amf0 empty input", raw: nil, err: ErrTruncated, msg: "amf0: value at offset 0: truncated"},
	{name: "amf3 empty input", raw: nil, amf3: true, err: ErrTruncated},
	{name: "amf0 object without end marker", raw: x("03 0001 'a' 05"), err: ErrTruncated, msg: "object key"},

	// Nesting.
	{name: "amf0 strict arrays 10000 deep", raw: nested("0a 00000001", 10000, "05"), err: ErrTooDeep},
	{name: "amf0 objects 10000 deep", raw: nested("03 0001 'a'", 10000, "05"), err: ErrTooDeep},
	{name: "amf0 ecma arrays 10000 deep", raw: nested("08 00000001 0001 'a'", 10000, "05"), err: ErrTooDeep},
	{name: "amf0 typed objects 10000 deep", raw: nested("10 0001 'T' 0001 'a'", 10000, "05"), err: ErrTooDeep},
	{
		name: "amf0 objects then avmplus arrays 10000 deep",
		raw:  cat(nested("03 0001 'a'", 10, "11"), nested("09 03 01", 10000, "01")),
		err:  ErrTooDeep,
	},
	{name: "amf0 65 levels", raw: nested("0a 00000001", 65, "05"), err: ErrTooDeep},
	{name: "amf3 arrays 10000 deep", raw: nested("09 03 01", 10000, "01"), amf3: true, err: ErrTooDeep},
	{name: "amf3 objects 10000 deep", raw: nested("0a 0b 01 03 'a'", 10000, "01"), amf3: true, err: ErrTooDeep},
	{name: "amf3 object vectors 10000 deep", raw: nested("10 03 00 01", 10000, "01"), amf3: true, err: ErrTooDeep},
	{name: "amf3 dictionaries 10000 deep", raw: nested("11 03 00 01", 10000, "01"), amf3: true, err: ErrTooDeep},
	{
		name:   "amf3 depth limit",
		raw:    nested("09 03 01", 4, "01"),
		amf3:   true,
		limits: Limits{MaxDepth: 3},
		err:    ErrTooDeep,
	},
	{
		name: "amf3 reference would nest too deep",
		raw:  cat(x("09 05 01"), nested("09 03 01", 40, "01"), nested("09 03 01", 30, "09 02")),
		amf3: true,
		err:  ErrTooDeep,
		msg:  "reference would nest",
	},

	// Declared lengths and counts beyond the input or the limits.
	{
		name: "amf0 string longer than input",
		raw:  x("02 ffff 'ab'"),
		err:  ErrTruncated,
		msg:  "length 65535 with 2 bytes left",
	},
	{name: "amf0 long string of 1 GiB", raw: x("0c 40000000 'ab'"), err: ErrTooLong},
	{name: "amf0 long string of 4 GiB", raw: x("0c ffffffff"), err: ErrTooLong},
	{name: "amf0 long string of 8 MiB", raw: x("0c 00800000 'ab'"), err: ErrTruncated},
	{name: "amf0 xml document of 1 GiB", raw: x("0f 40000000"), err: ErrTooLong},
	{name: "amf0 strict array of 4G items", raw: x("0a ffffffff 05"), err: ErrTooMany},
	{name: "amf0 strict array of 1M items", raw: x("0a 000f0000 05"), err: ErrTruncated},
	{name: "amf0 ecma array count hint of 4G", raw: x("08 ffffffff 0000 09")}, // count is only a hint
	{name: "amf3 string of 256 MiB", raw: x("06 ffffffff"), amf3: true, err: ErrTooLong},
	{name: "amf3 string of 8 MiB", raw: x("06 84808001 'ab'"), amf3: true, err: ErrTruncated},
	{name: "amf3 byte array of 256 MiB", raw: x("0c ffffffff"), amf3: true, err: ErrTooLong},
	{name: "amf3 xml of 256 MiB", raw: x("0b ffffffff"), amf3: true, err: ErrTooLong},
	{name: "amf3 array of 256M items", raw: x("09 ffffffff 01"), amf3: true, err: ErrTooMany},
	{name: "amf3 array of 1M items", raw: x("09 ffff7f 01"), amf3: true, err: ErrTruncated},
	{name: "amf3 int vector of 256M items", raw: x("0d ffffffff 00"), amf3: true, err: ErrTooMany},
	{name: "amf3 double vector beyond input", raw: x("0f 05 00 3ff0000000000000"), amf3: true, err: ErrTruncated},
	{name: "amf3 object vector of 1M items", raw: x("10 ffff7f 00 01"), amf3: true, err: ErrTruncated},
	{name: "amf3 dictionary of 256M entries", raw: x("11 ffffffff 00"), amf3: true, err: ErrTooMany},
	{name: "amf3 dictionary beyond input", raw: x("11 05 00 0101"), amf3: true, err: ErrTruncated},
	{name: "amf3 traits with 32M sealed members", raw: x("0a fffffff3 01"), amf3: true, err: ErrTooMany},
	{
		name: "amf3 traits with more sealed members than input",
		raw:  x("0a 8173 01 03 'a'"),
		amf3: true,
		err:  ErrTruncated,
	},

	// Limits.
	{name: "string over MaxStringLen", raw: x("02 0005 'hello'"), limits: Limits{MaxStringLen: 4}, err: ErrTooLong},
	{
		name:   "amf3 byte array over MaxStringLen",
		raw:    x("0c 07 010203"),
		amf3:   true,
		limits: Limits{MaxStringLen: 2},
		err:    ErrTooLong,
	},
	{name: "strict array over MaxItems", raw: x("0a 00000003 05 05 05"), limits: Limits{MaxItems: 2}, err: ErrTooMany},
	{
		name:   "object over MaxItems",
		raw:    x("03 0001 'a' 05 0001 'b' 05 0001 'c' 05 0000 09"),
		limits: Limits{MaxItems: 2},
		err:    ErrTooMany,
	},
	{
		name:   "amf3 dynamic members over MaxItems",
		raw:    x("0a 0b 01 03 'a' 01 03 'b' 01 03 'c' 01 01"),
		amf3:   true,
		limits: Limits{MaxItems: 2},
		err:    ErrTooMany,
	},
	{
		name:   "amf3 associative part over MaxItems",
		raw:    x("09 01 03 'a' 01 03 'b' 01 03 'c' 01 01"),
		amf3:   true,
		limits: Limits{MaxItems: 2},
		err:    ErrTooMany,
	},
	{
		name:   "values over MaxTotalItems",
		raw:    x("0a 00000005 05 05 05 05 05"),
		limits: Limits{MaxTotalItems: 5},
		err:    ErrTooMany,
	},
	{
		name:   "values over MaxTotalItems across Decode calls",
		raw:    x("05 05 05 05"),
		limits: Limits{MaxTotalItems: 3},
		err:    ErrTooMany,
	},
	{name: "amf0 exponential references", raw: refChain0(40, 2), err: ErrTooMany},
	{name: "amf3 exponential references", raw: refChain3(40, 2), amf3: true, err: ErrTooMany},
	{
		name: "amf3 repeated long string references",
		raw:  cat(x("09 8149 01 06 80c08001"), bytes.Repeat([]byte{'s'}, 1<<20), bytes.Repeat(x("06 00"), 99)),
		amf3: true,
		err:  ErrTooMany,
	},

	// References.
	{name: "amf0 reference out of range", raw: x("07 0005"), err: ErrBadReference, msg: "reference 5 with 0 objects"},
	{
		name: "amf0 reference to enclosing object",
		raw:  x("03 0001 'a' 07 0000 0000 09"),
		err:  ErrBadReference,
		msg:  "contains it",
	},
	{name: "amf3 string reference out of range", raw: x("06 02"), amf3: true, err: ErrBadReference},
	{name: "amf3 object reference out of range", raw: x("0a 02"), amf3: true, err: ErrBadReference},
	{
		name: "amf3 traits reference out of range",
		raw:  x("0a 05"),
		amf3: true,
		err:  ErrBadReference,
		msg:  "traits reference 1",
	},
	{name: "amf3 array containing itself", raw: x("09 03 01 09 00"), amf3: true, err: ErrBadReference},
	{name: "amf3 object containing itself", raw: x("0a 0b 01 03 'a' 0a 00 01"), amf3: true, err: ErrBadReference},
	{
		name: "amf3 date reference to a byte array",
		raw:  x("09 05 01 0c 03 00 08 02"),
		amf3: true,
		err:  ErrBadReference,
		msg:  "date reference 1 points to byte array value",
	},
	{name: "amf3 array reference to an object", raw: x("09 05 01 0a 0b 01 01 09 02"), amf3: true, err: ErrBadReference},
	{
		name: "amf3 int vector reference to a uint vector",
		raw:  x("09 05 01 0e 01 00 0d 02"),
		amf3: true,
		err:  ErrBadReference,
	},

	// Unsupported.
	{
		name: "amf3 externalizable object",
		raw:  x("0a 07 43 'flex.messaging.io.ArrayCollection' 09 01 01"),
		amf3: true,
		err:  ErrUnsupported,
		msg:  `externalizable class "flex.messaging.io.ArrayCollection"`,
	},
}

func TestDecodeBadInput(t *testing.T) {
	for _, bc := range badCases {
		t.Run(bc.name, func(t *testing.T) {
			err := bc.decode()
			if bc.err == nil {
				if err != nil {
					t.Fatalf("decode: %v, want success", err)
				}
				return
			}
			if !errors.Is(err, bc.err) {
				t.Fatalf("decode error = %v, want %v", err, bc.err)
			}
			if de := (*DecodeError)(nil); !errors.As(err, &de) {
				t.Errorf("decode error %v is not a *DecodeError", err)
			}
			if !strings.Contains(err.Error(), bc.msg) {
				t.Errorf("decode error = %q, want it to contain %q", err, bc.msg)
			}
		})
	}
}

// TestDecodeHugeLengthsDoNotAllocate checks that declared lengths and
// counts are checked against the input before anything is allocated.
func TestDecodeHugeLengthsDoNotAllocate(t *testing.T) {
	for _, bc := range badCases {
		if !strings.Contains(bc.name, "GiB") && !strings.Contains(bc.name, "M items") &&
			!strings.Contains(bc.name, "M entries") && !strings.Contains(bc.name, "M sealed") &&
			!strings.Contains(bc.name, "MiB") {
			continue
		}
		t.Run(bc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for range 10 {
				if err := bc.decode(); err == nil {
					t.Fatal("decode succeeded")
				}
			}
			runtime.ReadMemStats(&after)
			if got := after.TotalAlloc - before.TotalAlloc; got > 64<<10 {
				t.Errorf("10 decodes allocated %d bytes, want at most 64 KiB", got)
			}
		})
	}
}

func TestDecoderErrorIsSticky(t *testing.T) {
	d := NewDecoder(x("ff 05"), DefaultLimits)
	_, err1 := d.Decode()
	_, err2 := d.Decode()
	if err1 == nil || err2 != err1 { //nolint:errorlint // the same error value, not a wrapped one
		t.Fatalf("Decode() errors = %v, %v; want the same error twice", err1, err2)
	}
	d.Reset(x("05"))
	if v, err := d.Decode(); err != nil || v != nil {
		t.Fatalf("Decode() after Reset = %v, %v; want nil, nil", v, err)
	}
}

func TestDecoderReferenceDepthWithinLimit(t *testing.T) {
	// [A, [ref A]] with A = [[]]: A reaches level 3, the reference to A
	// (at level 3, A has height 1) level 4.
	raw := x("09 05 01 09 03 01 09 01 01 09 03 01 09 02")
	if _, err := NewDecoder3(raw, Limits{MaxDepth: 4}).Decode(); err != nil {
		t.Errorf("Decode with MaxDepth 4: %v", err)
	}
	if _, err := NewDecoder3(raw, Limits{MaxDepth: 3}).Decode(); !errors.Is(err, ErrTooDeep) {
		t.Errorf("Decode with MaxDepth 3: %v, want ErrTooDeep", err)
	}
}
