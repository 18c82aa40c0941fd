// Package flv reads the FLV tag bodies that RTMP audio, video and data
// messages carry: codec, keyframe and sequence-header detection for H.264,
// HEVC, AV1, VP9, AAC, MP3, Opus and the other FLV codecs, including
// Enhanced RTMP (FourCC, ModEx and multitrack headers), and the picture size
// of H.264 and HEVC sequence headers.
//
// Nothing here rewrites a payload: packets pass through byte for byte.
package flv

import "sync/atomic"

// PacketType is the kind of media a Packet carries, valued as the RTMP
// message type id.
type PacketType uint8

// Packet types.
const (
	PacketAudio PacketType = 8
	PacketVideo PacketType = 9
	PacketData  PacketType = 18 // AMF0 data message, e.g. onMetaData
)

// Packet is one audio, video or data message of a live stream. A Packet is
// immutable once published: many subscribers share it.
type Packet struct {
	Type      PacketType
	Timestamp uint32 // milliseconds
	Payload   []byte // the FLV tag body (the RTMP message body)

	Keyframe       bool // a video packet that starts a GOP
	SequenceHeader bool // codec configuration (AVC/HEVC/AV1 sequence header, AAC AudioSpecificConfig)

	encoded atomic.Pointer[Encoded]
}

// NewPacket returns a packet of type typ with timestamp ts (milliseconds)
// carrying payload, an FLV tag body, with Keyframe and SequenceHeader set
// from the payload. The packet keeps payload without copying or changing
// it; the caller must not modify payload afterwards. A payload that cannot
// be read is not an error: it is forwarded as a plain packet.
func NewPacket(typ PacketType, ts uint32, payload []byte) *Packet {
	p := &Packet{Type: typ, Timestamp: ts, Payload: payload}
	switch typ {
	case PacketVideo:
		h := parseVideoHeader(payload)
		p.Keyframe, p.SequenceHeader = h.keyframe, h.seqHeader
	case PacketAudio:
		p.SequenceHeader = parseAudioHeader(payload).seqHeader
	}
	return p
}

// Encoded is a Packet already encoded for the wire under one Key, shared by
// every subscriber that uses the same Key.
type Encoded struct {
	Key   EncodingKey
	Bytes []byte
}

// EncodingKey identifies the wire form of a packet: the same packet encodes
// to the same bytes for every connection with the same key.
type EncodingKey struct {
	ChunkSize     uint32
	ChunkStreamID uint32
	StreamID      uint32
}

// Encode returns the wire bytes of p under key, calling encode only if no
// encoding under that key is cached. Connections with an uncommon key
// replace the cache; the result is always correct for key.
func (p *Packet) Encode(key EncodingKey, encode func(dst []byte) []byte) []byte {
	if e := p.encoded.Load(); e != nil && e.Key == key {
		return e.Bytes
	}
	b := encode(make([]byte, 0, len(p.Payload)+len(p.Payload)/128+32))
	p.encoded.Store(&Encoded{Key: key, Bytes: b})
	return b
}
