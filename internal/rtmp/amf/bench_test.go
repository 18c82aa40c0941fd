package amf

import "testing"

// connectCommand is a typical RTMP connect command from a publisher.
var connectCommand = []any{
	"connect",
	1.0,
	Object{
		{"app", "live"},
		{"type", "nonprivate"},
		{"flashVer", "FMLE/3.0 (compatible; FMSc/1.0)"},
		{"swfUrl", "rtmp://127.0.0.1:1935/live"},
		{"tcUrl", "rtmp://127.0.0.1:1935/live"},
		{"fpad", false},
		{"capabilities", 239.0},
		{"audioCodecs", 3575.0},
		{"videoCodecs", 252.0},
		{"videoFunction", 1.0},
		{"pageUrl", Undefined{}},
		{"objectEncoding", 0.0},
	},
}

func mustMarshal(tb testing.TB, vs ...any) []byte {
	tb.Helper()
	raw, err := Marshal(vs...)
	if err != nil {
		tb.Fatalf("Marshal: %v", err)
	}
	return raw
}

func decodeAll(d *Decoder, raw []byte) error {
	d.Reset(raw)
	for d.More() {
		if _, err := d.Decode(); err != nil {
			return err
		}
	}
	return nil
}

func encodeAll(e *Encoder, vs []any) error {
	e.Reset(e.Bytes()[:0])
	for _, v := range vs {
		if err := e.Encode(v); err != nil {
			return err
		}
	}
	return nil
}

func TestConnectAllocations(t *testing.T) {
	raw := mustMarshal(t, connectCommand...)
	d := NewDecoder(raw, DefaultLimits)
	decodeAllocs := testing.AllocsPerRun(100, func() {
		if err := decodeAll(d, raw); err != nil {
			t.Fatal(err)
		}
	})
	// One copy of the body for all strings, one interface box per string
	// value, one for the number 3575, one property slice.
	if decodeAllocs > 10 {
		t.Errorf("decoding a connect command allocates %v times, want at most 10", decodeAllocs)
	}
	e := NewEncoder(make([]byte, 0, 512))
	encodeAllocs := testing.AllocsPerRun(100, func() {
		if err := encodeAll(e, connectCommand); err != nil {
			t.Fatal(err)
		}
	})
	if encodeAllocs != 0 {
		t.Errorf("encoding a connect command allocates %v times, want 0", encodeAllocs)
	}
}

func BenchmarkDecodeConnect(b *testing.B) {
	raw := mustMarshal(b, connectCommand...)
	d := NewDecoder(raw, DefaultLimits)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if err := decodeAll(d, raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeConnect(b *testing.B) {
	e := NewEncoder(make([]byte, 0, 512))
	b.ReportAllocs()
	for b.Loop() {
		if err := encodeAll(e, connectCommand); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(e.Bytes())))
}

func BenchmarkDecode3Objects(b *testing.B) {
	obj := func(i int) Object { return Object{{"id", int32(i)}, {"name", "user"}, {"active", true}} }
	raw, err := Marshal3(StrictArray{obj(1), obj(2), obj(3), obj(4)})
	if err != nil {
		b.Fatal(err)
	}
	d := NewDecoder3(raw, DefaultLimits)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if err := decodeAll(d, raw); err != nil {
			b.Fatal(err)
		}
	}
}
