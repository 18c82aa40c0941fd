package flv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// flvHeader returns an FLV file header with flags and a header of size
// bytes (9 for every real file), followed by PreviousTagSize0.
func flvHeader(flags byte, size uint32) []byte {
	b := []byte{'F', 'L', 'V', 1, flags}
	b = binary.BigEndian.AppendUint32(b, size)
	b = append(b, make([]byte, size-min(size, 9))...)
	return binary.BigEndian.AppendUint32(b, 0)
}

// appendTag appends an FLV tag and its PreviousTagSize to b.
func appendTag(b []byte, typ byte, ts uint32, body []byte) []byte {
	n := len(body)
	b = append(b, typ, byte(n>>16), byte(n>>8), byte(n), byte(ts>>16), byte(ts>>8), byte(ts), byte(ts>>24), 0, 0, 0)
	b = append(b, body...)
	return binary.BigEndian.AppendUint32(b, uint32(tagHeaderSize+n))
}

// encodeFile writes packets as an FLV file, the inverse of FileReader.
func encodeFile(pkts []*Packet) []byte {
	b := flvHeader(0x05, 9)
	for _, p := range pkts {
		b = appendTag(b, byte(p.Type), p.Timestamp, p.Payload)
	}
	return b
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

var (
	avcSeq    = hx("1700000000 0142c01effe100196742c01ed900a02ff97011000003000100000300320f162e4801000568cb83cb20")
	avcKey    = hx("1701000000 00000003 650102")
	avcInter  = hx("2701000050 00000003 410102")
	aacSeq    = hx("af00 1210")
	aacRaw    = hx("af01 211a2b")
	metaData  = hx("02000a6f6e4d65746144617461 0800000000 000009")
	fullTags  = appendTag(appendTag(appendTag(appendTag(appendTag(appendTag(nil, 18, 0, metaData), 9, 0, avcSeq), 8, 0, aacSeq), 9, 0, avcKey), 8, 23, aacRaw), 9, 0x01_00_00_21, avcInter)
	fullPkts  = []*Packet{NewPacket(PacketData, 0, metaData), NewPacket(PacketVideo, 0, avcSeq), NewPacket(PacketAudio, 0, aacSeq), NewPacket(PacketVideo, 0, avcKey), NewPacket(PacketAudio, 23, aacRaw), NewPacket(PacketVideo, 0x01_00_00_21, avcInter)}
	avAndData = FileHeader{Version: 1, HasAudio: true, HasVideo: true}
)

// fileCases is the FileReader table: the decode test and the fuzz seeds.
var fileCases = []struct {
	name    string
	raw     []byte
	header  FileHeader
	want    []*Packet
	wantErr error // after the packets; io.EOF for a clean end
}{
	{name: "header only", raw: flvHeader(0x05, 9), header: avAndData, wantErr: io.EOF},
	{name: "video only flag", raw: flvHeader(0x01, 9), header: FileHeader{Version: 1, HasVideo: true}, wantErr: io.EOF},
	{
		name: "metadata, sequence headers, frames, extended timestamp",
		raw:  cat(flvHeader(0x05, 9), fullTags), header: avAndData, want: fullPkts, wantErr: io.EOF,
	},
	{
		name: "longer header is skipped",
		raw:  cat(flvHeader(0x05, 13), appendTag(nil, 9, 40, avcKey)), header: avAndData,
		want: []*Packet{NewPacket(PacketVideo, 40, avcKey)}, wantErr: io.EOF,
	},
	{
		name: "unknown tag types are skipped",
		raw:  cat(flvHeader(0x05, 9), appendTag(nil, 15, 0, []byte{1, 2, 3}), appendTag(nil, 8, 5, aacRaw)), header: avAndData,
		want: []*Packet{NewPacket(PacketAudio, 5, aacRaw)}, wantErr: io.EOF,
	},
	{
		name: "empty tag body",
		raw:  cat(flvHeader(0x05, 9), appendTag(nil, 8, 7, nil)), header: avAndData,
		want: []*Packet{NewPacket(PacketAudio, 7, []byte{})}, wantErr: io.EOF,
	},
	{
		name: "last tag without previous tag size",
		raw:  cat(flvHeader(0x05, 9), appendTag(nil, 8, 1, aacRaw), appendTag(nil, 9, 2, avcKey)[:tagHeaderSize+len(avcKey)]), header: avAndData,
		want: []*Packet{NewPacket(PacketAudio, 1, aacRaw), NewPacket(PacketVideo, 2, avcKey)}, wantErr: io.EOF,
	},
	{name: "empty input", raw: nil, wantErr: io.ErrUnexpectedEOF},
	{name: "short header", raw: []byte("FLV\x01"), wantErr: io.ErrUnexpectedEOF},
	{name: "bad signature", raw: cat([]byte("FLX"), flvHeader(0x05, 9)[3:]), wantErr: ErrNotFLVFile},
	{name: "header size below 9", raw: cat(flvHeader(0x05, 9)[:5], []byte{0, 0, 0, 8, 0, 0, 0, 0}), wantErr: ErrNotFLVFile},
	{name: "header size too large", raw: cat(flvHeader(0x05, 9)[:5], []byte{0, 1, 0, 0, 0, 0, 0, 0}), wantErr: ErrNotFLVFile},
	{name: "missing previous tag size 0", raw: flvHeader(0x05, 9)[:9], wantErr: io.ErrUnexpectedEOF},
	{
		name: "truncated tag header",
		raw:  cat(flvHeader(0x05, 9), appendTag(nil, 8, 1, aacRaw), []byte{9, 0, 0}), header: avAndData,
		want: []*Packet{NewPacket(PacketAudio, 1, aacRaw)}, wantErr: io.ErrUnexpectedEOF,
	},
	{
		name: "truncated tag body",
		raw:  cat(flvHeader(0x05, 9), appendTag(nil, 9, 1, avcKey)[:tagHeaderSize+3]), header: avAndData,
		wantErr: io.ErrUnexpectedEOF,
	},
	{
		name: "encrypted tag",
		raw:  cat(flvHeader(0x05, 9), appendTag(nil, 9|tagFilterBit, 1, avcKey)), header: avAndData,
		wantErr: ErrEncryptedTag,
	},
}

// readAll reads packets until the first error.
func readAll(r io.Reader) (*FileReader, []*Packet, error) {
	fr := NewFileReader(r)
	var got []*Packet
	for {
		p, err := fr.ReadPacket()
		if err != nil {
			return fr, got, err
		}
		got = append(got, p)
	}
}

var packetCmp = cmp.Options{cmpopts.IgnoreUnexported(Packet{}), cmpopts.EquateEmpty()}

func TestFileReader(t *testing.T) {
	for _, tc := range fileCases {
		t.Run(tc.name, func(t *testing.T) {
			fr, got, err := readAll(bytes.NewReader(tc.raw))
			switch {
			case errors.Is(tc.wantErr, io.EOF):
				if err != io.EOF { //nolint:errorlint // ReadPacket returns io.EOF itself at the end
					t.Errorf("ReadPacket error = %v, want io.EOF", err)
				}
			case !errors.Is(err, tc.wantErr):
				t.Errorf("ReadPacket error = %v, want %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got, packetCmp); diff != "" {
				t.Errorf("packets mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.header, fr.Header()); diff != "" {
				t.Errorf("Header mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFileReaderFlags(t *testing.T) {
	_, got, err := readAll(bytes.NewReader(cat(flvHeader(0x05, 9), fullTags)))
	if err != io.EOF { //nolint:errorlint // ReadPacket returns io.EOF itself at the end
		t.Fatalf("ReadPacket error = %v, want io.EOF", err)
	}
	type flags struct{ Keyframe, SequenceHeader bool }
	want := []flags{{}, {false, true}, {false, true}, {true, false}, {}, {}}
	var gotFlags []flags
	for _, p := range got {
		gotFlags = append(gotFlags, flags{p.Keyframe, p.SequenceHeader})
	}
	if diff := cmp.Diff(want, gotFlags); diff != "" {
		t.Errorf("packet flags mismatch (-want +got):\n%s", diff)
	}
}

func FuzzFileReader(f *testing.F) {
	for _, tc := range fileCases {
		f.Add(tc.raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, got, err := readAll(bytes.NewReader(raw))
		if err == nil {
			t.Fatal("readAll ended without an error")
		}
		// What was read survives a round trip through the encoder.
		_, again, err := readAll(bytes.NewReader(encodeFile(got)))
		if err != io.EOF { //nolint:errorlint // ReadPacket returns io.EOF itself at the end
			t.Fatalf("re-read error = %v, want io.EOF", err)
		}
		if diff := cmp.Diff(got, again, packetCmp); diff != "" {
			t.Errorf("round trip mismatch (-first +second):\n%s", diff)
		}
	})
}
