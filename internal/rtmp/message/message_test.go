package message

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/shoal-live/shoal/internal/rtmp/amf"
	"github.com/shoal-live/shoal/internal/rtmp/chunk"
)

// h decodes hex with spaces.
func h(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// A tiny AMF0 writer, independent of package amf, to spell out expected
// bytes.
func s0(s string) []byte {
	return append(binary.BigEndian.AppendUint16([]byte{0x02}, uint16(len(s))), s...)
}

func n0(f float64) []byte { return binary.BigEndian.AppendUint64([]byte{0x00}, math.Float64bits(f)) }

func b0(v bool) []byte {
	if v {
		return []byte{0x01, 1}
	}
	return []byte{0x01, 0}
}

var null0 = []byte{0x05}

// key is an object property name (no marker).
func key(s string) []byte { return append(binary.BigEndian.AppendUint16(nil, uint16(len(s))), s...) }

// obj0 wraps key/value byte pairs as an AMF0 object.
func obj0(kv ...[]byte) []byte {
	b := []byte{0x03}
	for _, p := range kv {
		b = append(b, p...)
	}
	return append(b, 0, 0, 9)
}

// ecma0 wraps key/value byte pairs as an AMF0 ECMA array of n entries.
func ecma0(n uint32, kv ...[]byte) []byte {
	b := binary.BigEndian.AppendUint32([]byte{0x08}, n)
	for _, p := range kv {
		b = append(b, p...)
	}
	return append(b, 0, 0, 9)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// ffmpegPlayConnect is the body of the connect command ffmpeg 5 sent for
// `ffmpeg -i rtmp://127.0.0.1:36615/live/test`, captured after our
// handshake.
const ffmpegPlayConnect = "020007636f6e6e656374003ff00000000000000300036170700200046c6976650008666c61736856657202000d4c4e5820392c302c3132342c320005746355726c02001b72746d703a2f2f3132372e302e302e313a33363631352f6c6976650004667061640100000c6361706162696c697469657300402e000000000000000b617564696f436f646563730040afce0000000000000b766964656f436f6465637300406f800000000000000d766964656f46756e6374696f6e003ff0000000000000000009"

// ffmpegPublishConnect is the body of the connect command ffmpeg 5 sent
// when publishing to rtmp://127.0.0.1:44359/live/test.
const ffmpegPublishConnect = "020007636f6e6e656374003ff00000000000000300036170700200046c69766500047479706502000a6e6f6e707269766174650008666c617368566572020024464d4c452f332e302028636f6d70617469626c653b204c61766635392e32372e313030290005746355726c02001b72746d703a2f2f3132372e302e302e313a34343335392f6c697665000009"

// codecCase is one entry of the table used for decode, encode and fuzz
// seeds: msg is raw as a chunk message.
type codecCase struct {
	name       string
	msg        Message
	raw        *chunk.Message
	decodeOnly bool // raw is valid input that Encode writes differently
}

func control(t uint8, body []byte) *chunk.Message {
	return &chunk.Message{ChunkStreamID: 2, TypeID: t, Body: body}
}

var statusConnectSuccess = amf.Object{
	{Key: "level", Value: "status"},
	{Key: "code", Value: "NetConnection.Connect.Success"},
	{Key: "description", Value: "Connection succeeded."},
	{Key: "objectEncoding", Value: 0.0},
}

var codecCases = []codecCase{
	{name: "set chunk size", msg: &SetChunkSize{Size: 4096}, raw: control(1, h("00001000"))},
	{name: "abort", msg: &Abort{ChunkStreamID: 4}, raw: control(2, h("00000004"))},
	{name: "acknowledgement", msg: &Acknowledgement{SequenceNumber: 0x01020304}, raw: control(3, h("01020304"))},
	{name: "user control stream begin", msg: &UserControl{Event: UserControlStreamBegin, StreamID: 1}, raw: control(4, h("0000 00000001"))},
	{name: "user control stream EOF", msg: &UserControl{Event: UserControlStreamEOF, StreamID: 1}, raw: control(4, h("0001 00000001"))},
	{name: "user control stream dry", msg: &UserControl{Event: UserControlStreamDry, StreamID: 2}, raw: control(4, h("0002 00000002"))},
	{
		name: "user control set buffer length",
		msg:  &UserControl{Event: UserControlSetBufferLength, StreamID: 1, BufferLength: 3000},
		raw:  control(4, h("0003 00000001 00000bb8")),
	},
	{name: "user control stream is recorded", msg: &UserControl{Event: UserControlStreamIsRecorded, StreamID: 1}, raw: control(4, h("0004 00000001"))},
	{name: "user control ping request", msg: &UserControl{Event: UserControlPingRequest, Timestamp: 0x1234}, raw: control(4, h("0006 00001234"))},
	{name: "user control ping response", msg: &UserControl{Event: UserControlPingResponse, Timestamp: 0x1234}, raw: control(4, h("0007 00001234"))},
	{name: "user control buffer empty", msg: &UserControl{Event: UserControlBufferEmpty, StreamID: 1}, raw: control(4, h("001f 00000001"))},
	{name: "user control unknown event", msg: &UserControl{Event: 99, StreamID: 5}, raw: control(4, h("0063 00000005"))},
	{name: "window acknowledgement size", msg: &WindowAckSize{Size: 2500000}, raw: control(5, h("002625a0"))},
	{name: "set peer bandwidth", msg: &SetPeerBandwidth{Size: 2500000, Limit: LimitDynamic}, raw: control(6, h("002625a0 02"))},
	{
		name: "audio",
		msg:  &Audio{ChunkStreamID: 4, Timestamp: 1000, StreamID: 1, Payload: h("af01 2110")},
		raw:  &chunk.Message{ChunkStreamID: 4, Timestamp: 1000, TypeID: 8, StreamID: 1, Body: h("af01 2110")},
	},
	{
		name: "video on ffmpeg's source chunk stream",
		msg:  &Video{ChunkStreamID: 8, Timestamp: 40, StreamID: 1, Payload: h("17 01 000000 00000005 6588")},
		raw:  &chunk.Message{ChunkStreamID: 8, Timestamp: 40, TypeID: 9, StreamID: 1, Body: h("17 01 000000 00000005 6588")},
	},
	{
		name: "aggregate",
		msg:  &Aggregate{ChunkStreamID: 6, Timestamp: 7, StreamID: 1, Payload: h("09 000002 000007 00 000000 1701 0000000d")},
		raw:  &chunk.Message{ChunkStreamID: 6, Timestamp: 7, TypeID: 22, StreamID: 1, Body: h("09 000002 000007 00 000000 1701 0000000d")},
	},
	{
		name: "data @setDataFrame onMetaData",
		msg: &DataAMF0{ChunkStreamID: 8, StreamID: 1, Values: []any{
			"@setDataFrame", "onMetaData",
			amf.ECMAArray{{Key: "duration", Value: 0.0}, {Key: "width", Value: 640.0}, {Key: "encoder", Value: "Lavf59.27.100"}},
		}},
		raw: &chunk.Message{ChunkStreamID: 8, TypeID: 18, StreamID: 1, Body: cat(
			s0("@setDataFrame"), s0("onMetaData"),
			ecma0(3, key("duration"), n0(0), key("width"), n0(640), key("encoder"), s0("Lavf59.27.100")),
		)},
	},
	{
		name: "data |RtmpSampleAccess",
		msg:  &DataAMF0{ChunkStreamID: 6, StreamID: 1, Values: []any{"|RtmpSampleAccess", false, false}},
		raw:  &chunk.Message{ChunkStreamID: 6, TypeID: 18, StreamID: 1, Body: cat(s0("|RtmpSampleAccess"), b0(false), b0(false))},
	},
	{
		name: "data AMF3",
		msg:  &DataAMF3{ChunkStreamID: 6, Timestamp: 3, StreamID: 1, Values: []any{"onCuePoint", 1.5}},
		raw:  &chunk.Message{ChunkStreamID: 6, Timestamp: 3, TypeID: 15, StreamID: 1, Body: cat([]byte{0}, s0("onCuePoint"), n0(1.5))},
	},
	{
		name: "command connect from ffmpeg play",
		msg: &CommandAMF0{ChunkStreamID: 3, Name: "connect", TransactionID: 1, Object: amf.Object{
			{Key: "app", Value: "live"},
			{Key: "flashVer", Value: "LNX 9,0,124,2"},
			{Key: "tcUrl", Value: "rtmp://127.0.0.1:36615/live"},
			{Key: "fpad", Value: false},
			{Key: "capabilities", Value: 15.0},
			{Key: "audioCodecs", Value: 4071.0},
			{Key: "videoCodecs", Value: 252.0},
			{Key: "videoFunction", Value: 1.0},
		}},
		raw: &chunk.Message{ChunkStreamID: 3, TypeID: 20, Body: h(ffmpegPlayConnect)},
	},
	{
		name: "command connect from ffmpeg publish",
		msg: &CommandAMF0{ChunkStreamID: 3, Name: "connect", TransactionID: 1, Object: amf.Object{
			{Key: "app", Value: "live"},
			{Key: "type", Value: "nonprivate"},
			{Key: "flashVer", Value: "FMLE/3.0 (compatible; Lavf59.27.100)"},
			{Key: "tcUrl", Value: "rtmp://127.0.0.1:44359/live"},
		}},
		raw: &chunk.Message{ChunkStreamID: 3, TypeID: 20, Body: h(ffmpegPublishConnect)},
	},
	{
		name: "command _result for connect",
		msg: &CommandAMF0{
			ChunkStreamID: 3, Name: "_result", TransactionID: 1,
			Object: amf.Object{{Key: "fmsVer", Value: "FMS/3,0,1,123"}, {Key: "capabilities", Value: 31.0}},
			Args:   []any{statusConnectSuccess},
		},
		raw: &chunk.Message{ChunkStreamID: 3, TypeID: 20, Body: cat(
			s0("_result"), n0(1),
			obj0(key("fmsVer"), s0("FMS/3,0,1,123"), key("capabilities"), n0(31)),
			obj0(key("level"), s0("status"), key("code"), s0("NetConnection.Connect.Success"),
				key("description"), s0("Connection succeeded."), key("objectEncoding"), n0(0)),
		)},
	},
	{
		name: "command createStream",
		msg:  &CommandAMF0{ChunkStreamID: 3, Name: "createStream", TransactionID: 4},
		raw:  &chunk.Message{ChunkStreamID: 3, TypeID: 20, Body: cat(s0("createStream"), n0(4), null0)},
	},
	{
		name: "command _result for createStream",
		msg:  &CommandAMF0{ChunkStreamID: 3, Name: "_result", TransactionID: 4, Args: []any{1.0}},
		raw:  &chunk.Message{ChunkStreamID: 3, TypeID: 20, Body: cat(s0("_result"), n0(4), null0, n0(1))},
	},
	{
		name: "command publish",
		msg:  &CommandAMF0{ChunkStreamID: 8, StreamID: 1, Name: "publish", TransactionID: 5, Args: []any{"test", "live"}},
		raw:  &chunk.Message{ChunkStreamID: 8, TypeID: 20, StreamID: 1, Body: cat(s0("publish"), n0(5), null0, s0("test"), s0("live"))},
	},
	{
		name: "command play",
		msg:  &CommandAMF0{ChunkStreamID: 8, StreamID: 1, Name: "play", TransactionID: 4, Args: []any{"test", -2000.0}},
		raw:  &chunk.Message{ChunkStreamID: 8, TypeID: 20, StreamID: 1, Body: cat(s0("play"), n0(4), null0, s0("test"), n0(-2000))},
	},
	{
		name: "command onStatus",
		msg: &CommandAMF0{ChunkStreamID: 5, StreamID: 1, Name: "onStatus", Args: []any{amf.Object{
			{Key: "level", Value: "status"},
			{Key: "code", Value: "NetStream.Publish.Start"},
			{Key: "description", Value: "test is now published."},
		}}},
		raw: &chunk.Message{ChunkStreamID: 5, TypeID: 20, StreamID: 1, Body: cat(s0("onStatus"), n0(0), null0,
			obj0(key("level"), s0("status"), key("code"), s0("NetStream.Publish.Start"), key("description"), s0("test is now published.")))},
	},
	{
		name: "command AMF3 connect",
		msg: &CommandAMF3{
			ChunkStreamID: 3, Name: "connect", TransactionID: 1,
			Object: amf.Object{{Key: "app", Value: "live"}, {Key: "objectEncoding", Value: 3.0}},
		},
		raw: &chunk.Message{ChunkStreamID: 3, TypeID: 17, Body: cat([]byte{0}, s0("connect"), n0(1),
			obj0(key("app"), s0("live"), key("objectEncoding"), n0(3)))},
	},
	{
		name: "command AMF3 with an avmplus value",
		msg:  &CommandAMF3{ChunkStreamID: 3, Name: "send", TransactionID: 0, Args: []any{int32(5), "x"}},
		// 0x11 switches to AMF3 for one value: integer 5, then back to AMF0.
		raw:        &chunk.Message{ChunkStreamID: 3, TypeID: 17, Body: cat([]byte{0}, s0("send"), n0(0), null0, h("11 04 05"), s0("x"))},
		decodeOnly: true, // int32 encodes as an AMF0 number
	},
	{
		name:       "command without transaction id and object",
		msg:        &CommandAMF0{ChunkStreamID: 3, Name: "onBWDone"},
		raw:        &chunk.Message{ChunkStreamID: 3, TypeID: 20, Body: s0("onBWDone")},
		decodeOnly: true, // Encode writes the transaction id and a null object
	},
	{
		name: "shared object AMF0",
		msg:  &SharedObject{Body: h("0004 74657374 00000001 00000000 01 00000000")},
		raw:  &chunk.Message{ChunkStreamID: 3, TypeID: 19, Body: h("0004 74657374 00000001 00000000 01 00000000")},
	},
	{
		name: "shared object AMF3",
		msg:  &SharedObject{AMF3: true, Body: h("0004 74657374 00000001 00000000 01 00000000")},
		raw:  &chunk.Message{ChunkStreamID: 3, TypeID: 16, Body: h("00 0004 74657374 00000001 00000000 01 00000000")},
	},
	{
		name: "unknown type",
		msg:  &Unknown{Raw: &chunk.Message{ChunkStreamID: 3, TypeID: 7, Body: h("0102")}},
		raw:  &chunk.Message{ChunkStreamID: 3, TypeID: 7, Body: h("0102")},
	},
}

var cmpOpts = []cmp.Option{cmpopts.EquateEmpty()}

func TestDecode(t *testing.T) {
	for _, tc := range codecCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(tc.raw)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if diff := cmp.Diff(tc.msg, got, cmpOpts...); diff != "" {
				t.Errorf("Decode mismatch (-want +got):\n%s", diff)
			}
			if got.Type() != tc.raw.TypeID {
				t.Errorf("Type() = %d, want %d", got.Type(), tc.raw.TypeID)
			}
		})
	}
}

func TestEncode(t *testing.T) {
	for _, tc := range codecCases {
		if tc.decodeOnly {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			got, err := Encode(tc.msg)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if diff := cmp.Diff(tc.raw, got, cmpOpts...); diff != "" {
				t.Errorf("Encode mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEncode_DefaultChunkStreams(t *testing.T) {
	tests := []struct {
		msg      Message
		csid     uint32
		streamID uint32
	}{
		{&SetChunkSize{Size: 128}, 2, 0},
		{&UserControl{Event: UserControlStreamBegin, StreamID: 1}, 2, 0},
		{&Audio{StreamID: 1}, 4, 1},
		{&Video{StreamID: 1}, 6, 1},
		{&Aggregate{StreamID: 1}, 6, 1},
		{&DataAMF0{StreamID: 1, Values: []any{"onMetaData"}}, 6, 1},
		{&DataAMF3{StreamID: 1, Values: []any{"onMetaData"}}, 6, 1},
		{&CommandAMF0{Name: "connect", TransactionID: 1}, 3, 0},
		{&CommandAMF3{Name: "connect", TransactionID: 1}, 3, 0},
		{&CommandAMF0{StreamID: 1, Name: "onStatus"}, 3, 1},
		{&SharedObject{}, 3, 0},
		{&Video{ChunkStreamID: 7, StreamID: 1}, 7, 1},
	}
	for _, tc := range tests {
		m, err := Encode(tc.msg)
		if err != nil {
			t.Fatalf("Encode(%T): %v", tc.msg, err)
		}
		if m.ChunkStreamID != tc.csid || m.StreamID != tc.streamID {
			t.Errorf("Encode(%T) on chunk stream %d, message stream %d; want %d, %d",
				tc.msg, m.ChunkStreamID, m.StreamID, tc.csid, tc.streamID)
		}
	}
}

func TestDecode_Errors(t *testing.T) {
	tests := []struct {
		name    string
		raw     *chunk.Message
		wantErr string
		is      error
	}{
		{
			name:    "set chunk size short",
			raw:     control(1, h("000010")),
			wantErr: "message: decode set chunk size (type 1): size: body too short: 3 bytes, want 4",
			is:      ErrTruncated,
		},
		{name: "abort empty", raw: control(2, nil), wantErr: "abort (type 2): chunk stream id", is: ErrTruncated},
		{name: "acknowledgement short", raw: control(3, h("01")), wantErr: "acknowledgement (type 3): sequence number", is: ErrTruncated},
		{name: "user control empty", raw: control(4, h("00")), wantErr: "user control (type 4): event type", is: ErrTruncated},
		{name: "user control stream begin short", raw: control(4, h("0000 0001")), wantErr: "event 0 stream id", is: ErrTruncated},
		{name: "user control set buffer length short", raw: control(4, h("0003 00000001")), wantErr: "set buffer length", is: ErrTruncated},
		{name: "user control ping short", raw: control(4, h("0006")), wantErr: "event 6 timestamp", is: ErrTruncated},
		{name: "window ack size short", raw: control(5, h("0026")), wantErr: "window acknowledgement size (type 5): size", is: ErrTruncated},
		{name: "set peer bandwidth without limit", raw: control(6, h("002625a0")), wantErr: "set peer bandwidth (type 6)", is: ErrTruncated},
		{name: "command empty", raw: &chunk.Message{TypeID: 20}, wantErr: "command AMF0 (type 20): command name", is: ErrTruncated},
		{name: "command name not a string", raw: &chunk.Message{TypeID: 20, Body: n0(1)}, wantErr: "command name: got float64, want string"},
		{
			name:    "command transaction id not a number",
			raw:     &chunk.Message{TypeID: 20, Body: cat(s0("connect"), s0("1"))},
			wantErr: "transaction id of connect: got string, want number",
		},
		{name: "command truncated AMF", raw: &chunk.Message{TypeID: 20, Body: h("020007 636f6e")}, wantErr: "command AMF0 (type 20): value 0"},
		{name: "command AMF3 bad AMF", raw: &chunk.Message{TypeID: 17, Body: h("00 ff")}, wantErr: "command AMF3 (type 17): value 0"},
		{name: "data bad AMF", raw: &chunk.Message{TypeID: 18, Body: cat(s0("onMetaData"), h("08 0000"))}, wantErr: "data AMF0 (type 18): value 1"},
		{name: "shared object AMF3 empty", raw: &chunk.Message{TypeID: 16}, wantErr: "shared object AMF3 (type 16): encoding byte", is: ErrTruncated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.raw)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Decode = %v, want error containing %q", err, tc.wantErr)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("Decode = %v, want errors.Is %v", err, tc.is)
			}
		})
	}
}

func TestEncode_Errors(t *testing.T) {
	if _, err := Encode(&CommandAMF0{Name: "x", Args: []any{make(chan int)}}); err == nil ||
		!strings.Contains(err.Error(), "message: encode command AMF0 (type 20): value 3") {
		t.Errorf("Encode of an unencodable argument = %v, want an error naming the value", err)
	}
	if _, err := Encode(&Unknown{}); err == nil {
		t.Errorf("Encode(&Unknown{}) = nil error, want one")
	}
}

func FuzzDecode(f *testing.F) {
	for _, tc := range codecCases {
		f.Add(tc.raw.TypeID, tc.raw.Body)
	}
	f.Fuzz(func(t *testing.T, typeID uint8, body []byte) {
		m, err := Decode(&chunk.Message{ChunkStreamID: 3, TypeID: typeID, Body: body})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "message: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
			return
		}
		if m.Type() != typeID {
			t.Fatalf("Type() = %d after decoding type %d", m.Type(), typeID)
		}
		enc, err := Encode(m)
		if err != nil {
			t.Fatalf("re-encode of decoded %T failed: %v", m, err)
		}
		m2, err := Decode(enc)
		if err != nil {
			t.Fatalf("decode of re-encoded %T failed: %v", m, err)
		}
		if m2.Type() != m.Type() {
			t.Fatalf("re-decoded type %d, want %d", m2.Type(), m.Type())
		}
	})
}
