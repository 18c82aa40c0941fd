// Package rtmptest makes synthetic H.264/AAC FLV packets and starts
// in-process RTMP servers, so that tests of RTMP publishing and playing need
// no ffmpeg.
//
// The packets decode: the video is a 16x16 H.264 Constrained Baseline
// picture (a real IDR slice, then P-skip slices), the audio is AAC-LC
// silence, so players and ffprobe accept a stream built from them. Each
// packet is padded to the size asked for, and the padding carries the
// timestamp, so that packets with different timestamps differ.
package rtmptest

import (
	"encoding/binary"

	"github.com/shoal-live/shoal/internal/flv"
)

// The parameter sets and slices of a 16x16 x264 encode (keyint 250, one
// reference frame, 4-bit frame_num).
var (
	sps = []byte{0x67, 0x42, 0xc0, 0x0a, 0xda, 0x7b, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00, 0x03, 0x03, 0x20, 0xf1, 0x22, 0x6a}
	pps = []byte{0x68, 0xce, 0x0f, 0xc8}
	idr = []byte{0x65, 0x88, 0x84, 0x3a, 0x11, 0x8a, 0x00, 0x02, 0x31, 0x71, 0xc0, 0x00, 0x43, 0xca, 0x38, 0x00, 0x08, 0x05, 0xe0}
)

// pSlice returns the P-skip slice of frame n (1, 2, ...) after the IDR
// frame; frame_num is n modulo 16.
func pSlice(n int) []byte {
	k := byte(n % 16)
	qp := byte(0x2a)
	if n == 1 {
		qp = 0x26 // the first P slice refers to the IDR picture only
	}
	return []byte{0x41, 0x9a | k>>3, (k & 7) << 5, qp, 0x94}
}

// aacSilence is one raw AAC-LC frame of stereo silence (1024 samples): a
// channel pair element in its first aacSilenceBits bits, then ID_END.
var aacSilence = []byte{0x21, 0x10, 0x04, 0x60, 0x8c, 0x1c}

const aacSilenceBits = 43

// bitWriter appends bits, most significant first.
type bitWriter struct {
	b []byte
	n int // bits written
}

func (w *bitWriter) write(v uint32, bits int) {
	for i := bits - 1; i >= 0; i-- {
		if w.n%8 == 0 {
			w.b = append(w.b, 0)
		}
		if v>>i&1 == 1 {
			w.b[len(w.b)-1] |= 0x80 >> (w.n % 8)
		}
		w.n++
	}
}

// AVCSequenceHeader returns the H.264 sequence header video packet (an
// AVCDecoderConfigurationRecord with one SPS and one PPS) at ts.
func AVCSequenceHeader(ts uint32) *flv.Packet {
	b := []byte{
		0x17, 0x00, 0, 0, 0, // keyframe|AVC, sequence header, composition time 0
		0x01, sps[1], sps[2], sps[3], 0xff, 0xe1,
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(sps)))
	b = append(b, sps...)
	b = append(b, 0x01)
	b = binary.BigEndian.AppendUint16(b, uint16(len(pps)))
	b = append(b, pps...)
	return flv.NewPacket(flv.PacketVideo, ts, b)
}

// AVCKeyframe returns an H.264 IDR video packet at ts of about size bytes
// (at least 40).
func AVCKeyframe(ts uint32, size int) *flv.Packet {
	return flv.NewPacket(flv.PacketVideo, ts, avcFrame(0x17, idr, ts, size))
}

// AVCInterFrame returns the H.264 P video packet of frame n (1, 2, ...)
// after a keyframe, at ts, of about size bytes (at least 30).
func AVCInterFrame(ts uint32, n, size int) *flv.Packet {
	return flv.NewPacket(flv.PacketVideo, ts, avcFrame(0x27, pSlice(max(n, 1)), ts, size))
}

// avcFrame builds an AVC NALU video tag body: the slice, then a filler
// data NAL unit that carries ts and pads the body to size bytes.
func avcFrame(first byte, slice []byte, ts uint32, size int) []byte {
	fill := max(size-5-4-len(slice)-4, 7) // filler NAL: header, ts (5 bytes), 0xff..., trailing bits
	b := make([]byte, 0, 5+4+len(slice)+4+fill)
	b = append(b, first, 0x01, 0, 0, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(len(slice)))
	b = append(b, slice...)
	b = binary.BigEndian.AppendUint32(b, uint32(fill))
	b = append(b, 0x0c) // filler data
	// ts, 7 bits a byte with the top bit set: no zero bytes, so no start code.
	for i := range 5 {
		b = append(b, 0x80|byte(ts>>(7*i))&0x7f)
	}
	for range fill - 7 {
		b = append(b, 0xff)
	}
	return append(b, 0x80)
}

// AACSequenceHeader returns the AAC sequence header audio packet
// (AudioSpecificConfig: AAC-LC, 44.1 kHz, stereo) at ts.
func AACSequenceHeader(ts uint32) *flv.Packet {
	return flv.NewPacket(flv.PacketAudio, ts, []byte{0xaf, 0x00, 0x12, 0x10})
}

// AACFrame returns an AAC raw frame audio packet at ts of about size bytes
// (16 to 280): silence, with a fill element that carries ts and pads the
// frame to size.
func AACFrame(ts uint32, size int) *flv.Packet {
	fill := min(max(size-10, 5), 269) // bytes of fill payload
	w := bitWriter{b: []byte{0xaf, 0x01}, n: 16}
	for i := range aacSilenceBits {
		w.write(uint32(aacSilence[i/8]>>(7-i%8)&1), 1)
	}
	w.write(6, 3) // ID_FIL
	if fill < 15 {
		w.write(uint32(fill), 4)
	} else {
		w.write(15, 4)
		w.write(uint32(fill-15+1), 8) // esc_count
	}
	w.write(0, 8) // extension type EXT_FILL, fill nibble
	w.write(ts, 32)
	for range fill - 5 {
		w.write(0xa5, 8) // fill bytes as the standard spells them
	}
	w.write(7, 3) // ID_END
	return flv.NewPacket(flv.PacketAudio, ts, w.b)
}

// Stream returns a synthetic live stream: the AVC and AAC sequence headers
// at 0, then gops groups of pictures of frames video frames each (25 fps, a
// keyframe first, 4000-byte keyframes and 800-byte inter frames), each video
// frame followed by one 200-byte AAC frame with the same timestamp.
func Stream(gops, frames int) []*flv.Packet {
	pkts := []*flv.Packet{AVCSequenceHeader(0), AACSequenceHeader(0)}
	for g := range gops {
		for f := range frames {
			ts := uint32((g*frames + f) * 40)
			if f == 0 {
				pkts = append(pkts, AVCKeyframe(ts, 4000))
			} else {
				pkts = append(pkts, AVCInterFrame(ts, f, 800))
			}
			pkts = append(pkts, AACFrame(ts, 200))
		}
	}
	return pkts
}
