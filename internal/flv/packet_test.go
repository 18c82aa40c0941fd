package flv

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// hx decodes hex written with optional spaces; the inputs are constants.
func hx(s string) []byte {
	out, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return out
}

// Real byte prefixes: the legacy tags come from ffmpeg 5.1 FLV output
// (libx264, aac, libmp3lame, flv1, pcm_s16le); the Enhanced RTMP tags wrap
// configuration records from ffmpeg MP4 output (libx265 hvcC, libsvtav1
// av1C, libvpx-vp9 vpcC, libopus dOps) in headers built to the E-RTMP v2
// layout.
const (
	hvcC720p = "0101600000009000000000005df000fcfdf8f800000f04" + // header, 4 arrays
		"20 0001 0018 40010c01ffff01600000030090000003000003005d959809" + // VPS
		"21 0001 002b 42010101600000030090000003000003005da00280802d165959a4932bc05a02000003000200000300321022" + // SPS
		"22 0001 0007 4401c172b46240" // PPS; the SEI array is cut off
	av1C720p  = "81050c000a0b0000002d4cffb3c02f8004"
	vpcC360p  = "010000000015820202020000"
	dOps48k   = "000101380000bb80000000"
	ascAAC44k = "1208 56e5 00"
)

var packetCases = []struct {
	name      string
	typ       PacketType
	payload   []byte
	keyframe  bool
	seqHeader bool
	codec     string     // VideoCodec or AudioCodec, by typ
	info      *VideoInfo // ParseVideoInfo of a video sequence header that parses
}{
	// Legacy H.264 (CodecID 7).
	{
		name:      "avc sequence header high 1080p",
		typ:       PacketVideo,
		payload:   hx("1700000000 01640028ffe1001b67640028acd940780227e5c044000003000400000300c83c60c65801000668ebe3cb22c0fdf8f800"),
		seqHeader: true, codec: CodecH264,
		info: &VideoInfo{Codec: CodecH264, Width: 1920, Height: 1080, Profile: "High", Level: "4"},
	},
	{
		name:      "avc sequence header baseline 360p",
		typ:       PacketVideo,
		payload:   hx("1700000000 0142c01effe100196742c01ed900a02ff97011000003000100000300320f162e4801000568cb83cb20"),
		seqHeader: true, codec: CodecH264,
		info: &VideoInfo{Codec: CodecH264, Width: 640, Height: 360, Profile: "Baseline", Level: "3"},
	},
	{
		name:      "avc sequence header main interlaced 576i",
		typ:       PacketVideo,
		payload:   hx("1700000000 014d401effe10018674d401eeca05a126c0440000003004000000c87c50a658001000568fba3cb20"),
		seqHeader: true, codec: CodecH264,
		info: &VideoInfo{Codec: CodecH264, Width: 720, Height: 576, Profile: "Main", Level: "3"},
	},
	{
		name:      "avc sequence header high 4:4:4 720p",
		typ:       PacketVideo,
		payload:   hx("1700000000 01f4001fffe1001a67f4001f919b280a00b76022000003000200000300641e30632c01000668ebe3c44844fff8f800"),
		seqHeader: true, codec: CodecH264,
		info: &VideoInfo{Codec: CodecH264, Width: 1280, Height: 720, Profile: "High 4:4:4 Predictive", Level: "3.1"},
	},
	{
		name:      "avc sequence header high 4:2:2 720p",
		typ:       PacketVideo,
		payload:   hx("1700000000 017a001fffe1001a677a001fbcd9405005bb011000000300100000030320f183196001000668ebe3cb22c0fef8f800"),
		seqHeader: true, codec: CodecH264,
		info: &VideoInfo{Codec: CodecH264, Width: 1280, Height: 720, Profile: "High 4:2:2", Level: "3.1"},
	},
	{
		name:     "avc keyframe",
		typ:      PacketVideo,
		payload:  hx("1701000050 000002ac0605ffffa8dc45e9bde6d948b7962cd820d923eeef78323634"),
		keyframe: true, codec: CodecH264,
	},
	{
		name:    "avc inter frame",
		typ:     PacketVideo,
		payload: hx("27010000c8 000005b7419a246c42bffe384002b22b6e8051"),
		codec:   CodecH264,
	},
	{
		name:    "avc end of sequence",
		typ:     PacketVideo,
		payload: hx("1702000000"),
		codec:   CodecH264,
	},
	{name: "avc truncated", typ: PacketVideo, payload: hx("17"), codec: CodecH264},
	// Legacy HEVC (CodecID 12, as some servers and encoders use).
	{
		name:      "legacy hevc sequence header",
		typ:       PacketVideo,
		payload:   hx("1c00000000" + hvcC720p),
		seqHeader: true, codec: CodecHEVC,
		info: &VideoInfo{Codec: CodecHEVC, Width: 1280, Height: 720, Profile: "Main", Level: "3.1"},
	},
	{name: "legacy hevc keyframe", typ: PacketVideo, payload: hx("1c01000000 0000001a2601af"), keyframe: true, codec: CodecHEVC},
	{name: "legacy hevc inter frame", typ: PacketVideo, payload: hx("2c01000000 0000000c0201d0"), codec: CodecHEVC},
	// Other legacy video codecs.
	{name: "sorenson h263 keyframe", typ: PacketVideo, payload: hx("120000840292a620202021ffff31"), keyframe: true, codec: CodecH263},
	{name: "sorenson h263 inter frame", typ: PacketVideo, payload: hx("2200008406b13c28b0fa31215b78"), codec: CodecH263},
	{name: "vp6 keyframe", typ: PacketVideo, payload: hx("14 00 000000"), keyframe: true, codec: CodecVP6},
	{name: "video info frame", typ: PacketVideo, payload: hx("5700"), codec: CodecH264},
	{name: "unknown video codec", typ: PacketVideo, payload: hx("1f00"), codec: ""},
	{name: "empty video", typ: PacketVideo, payload: nil, codec: ""},
	// Enhanced RTMP video.
	{
		name:      "enhanced hevc sequence start",
		typ:       PacketVideo,
		payload:   hx("90 68766331" + hvcC720p),
		seqHeader: true, codec: CodecHEVC,
		info: &VideoInfo{Codec: CodecHEVC, Width: 1280, Height: 720, Profile: "Main", Level: "3.1"},
	},
	{name: "enhanced hevc coded frames keyframe", typ: PacketVideo, payload: hx("91 68766331 000000 0000001a2601af"), keyframe: true, codec: CodecHEVC},
	{name: "enhanced hevc coded frames x keyframe", typ: PacketVideo, payload: hx("93 68766331 0000001a2601af"), keyframe: true, codec: CodecHEVC},
	{name: "enhanced hevc inter frame", typ: PacketVideo, payload: hx("a1 68766331 000050 0000000c0201d0"), codec: CodecHEVC},
	{name: "enhanced hevc sequence end", typ: PacketVideo, payload: hx("92 68766331"), codec: CodecHEVC},
	{name: "enhanced hevc metadata", typ: PacketVideo, payload: hx("94 68766331 02000963 6f6c6f72496e666f"), codec: CodecHEVC},
	{
		name:      "enhanced av1 sequence start",
		typ:       PacketVideo,
		payload:   hx("90 61763031" + av1C720p),
		seqHeader: true, codec: CodecAV1,
		info: &VideoInfo{Codec: CodecAV1, Profile: "Main", Level: "3.1"},
	},
	{name: "enhanced av1 mpeg2ts sequence start", typ: PacketVideo, payload: hx("95 61763031 80"), seqHeader: true, codec: CodecAV1, info: &VideoInfo{Codec: CodecAV1}},
	{name: "enhanced av1 keyframe", typ: PacketVideo, payload: hx("91 61763031 12000a0b"), keyframe: true, codec: CodecAV1},
	{
		name:      "enhanced vp9 sequence start",
		typ:       PacketVideo,
		payload:   hx("90 76703039" + vpcC360p),
		seqHeader: true, codec: CodecVP9,
		info: &VideoInfo{Codec: CodecVP9},
	},
	{name: "enhanced vp9 keyframe", typ: PacketVideo, payload: hx("91 76703039 824983420027f0"), keyframe: true, codec: CodecVP9},
	{
		name:      "enhanced avc sequence start",
		typ:       PacketVideo,
		payload:   hx("90 61766331 0142c01effe100196742c01ed900a02ff97011000003000100000300320f162e4801000568cb83cb20"),
		seqHeader: true, codec: CodecH264,
		info: &VideoInfo{Codec: CodecH264, Width: 640, Height: 360, Profile: "Baseline", Level: "3"},
	},
	{name: "enhanced avc keyframe", typ: PacketVideo, payload: hx("91 61766331 000000 00000002ac06"), keyframe: true, codec: CodecH264},
	{name: "enhanced unknown fourcc keyframe", typ: PacketVideo, payload: hx("91 78797a31 00"), keyframe: true, codec: ""},
	{name: "enhanced modex then coded frames", typ: PacketVideo, payload: hx("97 02 0001f4 01 68766331 000000 00"), keyframe: true, codec: CodecHEVC},
	{
		name:      "enhanced modex with 16-bit size then sequence start",
		typ:       PacketVideo,
		payload:   append(append(hx("97 ff 0100"), make([]byte, 257)...), hx("00 61763031"+av1C720p)...),
		seqHeader: true, codec: CodecAV1,
		info: &VideoInfo{Codec: CodecAV1, Profile: "Main", Level: "3.1"},
	},
	{name: "enhanced two modex prefixes", typ: PacketVideo, payload: hx("a7 00 01 07 00 02 03 76703039 00"), codec: CodecVP9},
	{name: "enhanced modex truncated", typ: PacketVideo, payload: hx("97 05 0001"), codec: ""},
	{
		name:      "enhanced multitrack one track sequence start",
		typ:       PacketVideo,
		payload:   hx("96 00 61763031 01" + av1C720p),
		seqHeader: true, codec: CodecAV1,
		info: &VideoInfo{Codec: CodecAV1, Profile: "Main", Level: "3.1"},
	},
	{name: "enhanced multitrack many tracks keyframe", typ: PacketVideo, payload: hx("96 13 68766331 00 000003 aabbcc 01 000001 dd"), keyframe: true, codec: CodecHEVC},
	{name: "enhanced multitrack many codecs keyframe", typ: PacketVideo, payload: hx("96 21 61763031 00 000001 aa 76703039 01 000001 bb"), keyframe: true, codec: CodecAV1},
	{name: "enhanced multitrack truncated", typ: PacketVideo, payload: hx("96"), codec: ""},
	{name: "enhanced command frame", typ: PacketVideo, payload: hx("d1 00"), codec: ""},
	{name: "enhanced fourcc truncated", typ: PacketVideo, payload: hx("91 6876"), codec: ""},
	// Legacy audio.
	{name: "aac sequence header", typ: PacketAudio, payload: hx("af00" + ascAAC44k), seqHeader: true, codec: CodecAAC},
	{name: "aac raw", typ: PacketAudio, payload: hx("af01 de02004c61766335392e33372e"), codec: CodecAAC},
	{name: "aac truncated", typ: PacketAudio, payload: hx("af"), codec: CodecAAC},
	{name: "mp3", typ: PacketAudio, payload: hx("2e fffb50c400000a2c432e5594"), codec: CodecMP3},
	{name: "mp3 8khz", typ: PacketAudio, payload: hx("e2 fff3"), codec: CodecMP3},
	{name: "pcm little endian", typ: PacketAudio, payload: hx("3e 00000001ff01fd02"), codec: CodecPCM},
	{name: "speex", typ: PacketAudio, payload: hx("b2 00"), codec: CodecSpeex},
	{name: "g711 mu-law", typ: PacketAudio, payload: hx("82 ff"), codec: CodecG711U},
	{name: "nellymoser", typ: PacketAudio, payload: hx("6e 00"), codec: CodecNellymoser},
	{name: "device specific", typ: PacketAudio, payload: hx("f2 00"), codec: ""},
	{name: "empty audio", typ: PacketAudio, payload: []byte{}, codec: ""},
	// Enhanced RTMP audio.
	{name: "enhanced opus sequence start", typ: PacketAudio, payload: hx("90 4f707573" + dOps48k), seqHeader: true, codec: CodecOpus},
	{name: "enhanced opus coded frames", typ: PacketAudio, payload: hx("91 4f707573 fc"), codec: CodecOpus},
	{name: "enhanced aac sequence start", typ: PacketAudio, payload: hx("90 6d703461" + ascAAC44k), seqHeader: true, codec: CodecAAC},
	{name: "enhanced mp3 coded frames", typ: PacketAudio, payload: hx("91 2e6d7033 fffb50c4"), codec: CodecMP3},
	{name: "enhanced flac sequence start", typ: PacketAudio, payload: hx("90 664c6143 00"), seqHeader: true, codec: CodecFLAC},
	{name: "enhanced ac3 coded frames", typ: PacketAudio, payload: hx("91 61632d33 0b77"), codec: CodecAC3},
	{name: "enhanced eac3 coded frames", typ: PacketAudio, payload: hx("91 65632d33 0b77"), codec: CodecEAC3},
	{name: "enhanced audio multichannel config", typ: PacketAudio, payload: hx("94 4f707573 01 02"), codec: CodecOpus},
	{name: "enhanced audio modex", typ: PacketAudio, payload: hx("97 02 000064 01 4f707573 fc"), codec: CodecOpus},
	{name: "enhanced audio multitrack sequence start", typ: PacketAudio, payload: hx("95 00 4f707573 00" + dOps48k), seqHeader: true, codec: CodecOpus},
	{name: "enhanced audio multitrack many codecs", typ: PacketAudio, payload: hx("95 21 6d703461 00 000001 21"), codec: CodecAAC},
	{name: "enhanced audio truncated", typ: PacketAudio, payload: hx("90 4f70"), codec: ""},
	// Data.
	{name: "set data frame metadata", typ: PacketData, payload: hx("02000d40736574446174614672616d65 02000a6f6e4d65746144617461 080000000000000009")},
}

func TestNewPacket(t *testing.T) {
	for _, tc := range packetCases {
		t.Run(tc.name, func(t *testing.T) {
			orig := bytes.Clone(tc.payload)
			p := NewPacket(tc.typ, 1234, tc.payload)
			got := struct{ Type, Timestamp, Keyframe, SequenceHeader any }{p.Type, p.Timestamp, p.Keyframe, p.SequenceHeader}
			want := struct{ Type, Timestamp, Keyframe, SequenceHeader any }{tc.typ, uint32(1234), tc.keyframe, tc.seqHeader}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("NewPacket(%x) mismatch (-want +got):\n%s", tc.payload, diff)
			}
			if len(tc.payload) > 0 && &p.Payload[0] != &tc.payload[0] || len(p.Payload) != len(tc.payload) {
				t.Errorf("NewPacket copied or resliced the payload; it must keep it as given")
			}
			if !bytes.Equal(tc.payload, orig) {
				t.Errorf("NewPacket changed the payload: % x, want % x", tc.payload, orig)
			}
		})
	}
}

func TestCodec(t *testing.T) {
	for _, tc := range packetCases {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			switch tc.typ {
			case PacketVideo:
				got = VideoCodec(tc.payload)
			case PacketAudio:
				got = AudioCodec(tc.payload)
			default:
				return
			}
			if got != tc.codec {
				t.Errorf("codec(%x) = %q, want %q", tc.payload, got, tc.codec)
			}
		})
	}
}

func TestParseVideoInfo(t *testing.T) {
	for _, tc := range packetCases {
		if tc.typ != PacketVideo {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseVideoInfo(tc.payload)
			switch {
			case !tc.seqHeader:
				if !errors.Is(err, ErrNotSequenceHeader) {
					t.Errorf("ParseVideoInfo(%x) error = %v, want ErrNotSequenceHeader", tc.payload, err)
				}
			case err != nil:
				t.Fatalf("ParseVideoInfo(%x): %v", tc.payload, err)
			default:
				if diff := cmp.Diff(tc.info, &got); diff != "" {
					t.Errorf("ParseVideoInfo(%x) mismatch (-want +got):\n%s", tc.payload, diff)
				}
			}
		})
	}
}

func TestParseVideoInfo_BadRecords(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
		want    string
	}{
		{"avc record too short", hx("1700000000 0164"), "want at least 6"},
		{"avc record version", hx("1700000000 02640028ffe1"), "version 2"},
		{"avc record without sps", hx("1700000000 01640028ffe0"), "no sps"},
		{"avc sps length beyond record", hx("1700000000 01640028ffe1 00ff 6764"), "sps length"},
		{"avc sps truncated", hx("1700000000 01640028ffe1 0006 67640028acd9"), "truncated"},
		{"avc sps wrong nal type", hx("1700000000 01640028ffe1 0004 68640028"), "nal unit type 8"},
		{"hevc record too short", hx("9068766331 0101"), "want at least 23"},
		{"hevc record without sps", hx("9068766331 0101600000009000000000005df000fcfdf8f800000f 00"), "no sps"},
		{"hevc sps truncated", hx("9068766331 0101600000009000000000005df000fcfdf8f800000f 01 21 0001 0004 42010101"), "truncated"},
		{"av1 record marker", hx("9061763031 01050c00"), "marker"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseVideoInfo(tc.payload)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseVideoInfo(%x) error = %v, want one containing %q", tc.payload, err, tc.want)
			}
		})
	}
}

func TestMetadata(t *testing.T) {
	onMetaData := hx("02000a6f6e4d65746144617461 0800000001 0005776964746800409e000000000000 000009")
	tests := []struct {
		name    string
		payload []byte
		want    []byte
		ok      bool
	}{
		{"set data frame wrapper", append(hx("02000d40736574446174614672616d65"), onMetaData...), onMetaData, true},
		{"bare onMetaData", onMetaData, onMetaData, true},
		{"set data frame of another name", hx("02000d40736574446174614672616d65 02000a6f6e54657874446174610500"), nil, false},
		{"cue point", hx("02000a6f6e437565506f696e74 0500"), nil, false},
		{"truncated", hx("02000a6f6e4d657461"), nil, false},
		{"not a string", hx("00400000"), nil, false},
		{"empty", nil, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Metadata(tc.payload)
			if ok != tc.ok || !bytes.Equal(got, tc.want) {
				t.Errorf("Metadata(%x) = %x, %v, want %x, %v", tc.payload, got, ok, tc.want, tc.ok)
			}
			if ok && &got[len(got)-1] != &tc.payload[len(tc.payload)-1] {
				t.Errorf("Metadata copied the payload; it must return a subslice")
			}
		})
	}
}

func FuzzNewPacket(f *testing.F) {
	for _, tc := range packetCases {
		f.Add(uint8(tc.typ), tc.payload)
	}
	f.Fuzz(func(t *testing.T, typ uint8, payload []byte) {
		orig := bytes.Clone(payload)
		p := NewPacket(PacketType(typ), 0, payload)
		if p.Keyframe && (p.Type != PacketVideo || p.SequenceHeader) {
			t.Errorf("NewPacket(%d, %x): keyframe on a non-video packet or a sequence header", typ, payload)
		}
		vc := VideoCodec(payload)
		AudioCodec(payload)
		info, err := ParseVideoInfo(payload)
		seq := NewPacket(PacketVideo, 0, payload).SequenceHeader
		if seq == errors.Is(err, ErrNotSequenceHeader) {
			t.Errorf("ParseVideoInfo(%x) error = %v, but SequenceHeader = %v", payload, err, seq)
		}
		if seq && info.Codec != vc {
			t.Errorf("ParseVideoInfo(%x).Codec = %q, VideoCodec = %q", payload, info.Codec, vc)
		}
		if info.Width < 0 || info.Height < 0 || info.Width > 1<<16 || info.Height > 1<<16 {
			t.Errorf("ParseVideoInfo(%x) size %dx%d out of range", payload, info.Width, info.Height)
		}
		if m, ok := Metadata(payload); ok && len(m) > len(payload) {
			t.Errorf("Metadata(%x) longer than its input", payload)
		}
		if !bytes.Equal(payload, orig) {
			t.Errorf("payload changed: % x, want % x", payload, orig)
		}
	})
}

func BenchmarkNewPacket(b *testing.B) {
	payload := packetCases[5].payload // avc keyframe
	b.ReportAllocs()
	for b.Loop() {
		NewPacket(PacketVideo, 0, payload)
	}
}
