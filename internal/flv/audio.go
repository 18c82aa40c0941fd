package flv

// Audio codec names returned by AudioCodec.
const (
	CodecPCM        = "PCM" // linear PCM, platform or little endian
	CodecADPCM      = "ADPCM"
	CodecMP3        = "MP3" // SoundFormat 2 and 14 (MP3 8 kHz), Enhanced RTMP '.mp3'
	CodecNellymoser = "Nellymoser"
	CodecG711A      = "G711A"
	CodecG711U      = "G711U"
	CodecAAC        = "AAC" // SoundFormat 10, Enhanced RTMP 'mp4a'
	CodecSpeex      = "Speex"
	CodecOpus       = "Opus" // Enhanced RTMP 'Opus'
	CodecFLAC       = "FLAC" // Enhanced RTMP 'fLaC'
	CodecAC3        = "AC3"  // Enhanced RTMP 'ac-3'
	CodecEAC3       = "EAC3" // Enhanced RTMP 'ec-3'
)

// Legacy FLV SoundFormat values (high nibble of the first byte).
const (
	soundAAC      = 10
	soundExHeader = 9 // Enhanced RTMP: the low nibble is an AudioPacketType
)

// Enhanced RTMP audio packet types.
const (
	exAudioSequenceStart = 0
	exAudioMultitrack    = 5
	exAudioModEx         = 7
)

// audioHeader is what the first bytes of an audio tag body say.
type audioHeader struct {
	codec     string
	seqHeader bool
}

var soundFormats = [16]string{
	0:  CodecPCM,
	1:  CodecADPCM,
	2:  CodecMP3,
	3:  CodecPCM,
	4:  CodecNellymoser, // 16 kHz mono
	5:  CodecNellymoser, // 8 kHz mono
	6:  CodecNellymoser,
	7:  CodecG711A,
	8:  CodecG711U,
	10: CodecAAC,
	11: CodecSpeex,
	14: CodecMP3,
}

// parseAudioHeader reads the tag header of an audio tag body, legacy or
// Enhanced RTMP. It never fails: what it cannot read is left zero.
func parseAudioHeader(b []byte) audioHeader {
	if len(b) == 0 {
		return audioHeader{}
	}
	format := b[0] >> 4
	if format != soundExHeader {
		h := audioHeader{codec: soundFormats[format]}
		// AACPacketType: 0 AudioSpecificConfig, 1 raw frames.
		h.seqHeader = format == soundAAC && len(b) >= 2 && b[1] == 0
		return h
	}
	// ExAudioTagHeader: ModEx prefixes, then a multitrack header or a FourCC.
	packetType, i, ok := skipModEx(b, b[0]&0x0f, 1, exAudioModEx)
	if !ok {
		return audioHeader{}
	}
	if packetType == exAudioMultitrack {
		if i >= len(b) {
			return audioHeader{}
		}
		packetType = b[i] & 0x0f
		i++ // the FourCC, shared or the first track's, comes next either way
	}
	if len(b) < i+4 {
		return audioHeader{}
	}
	return audioHeader{
		codec:     audioFourCC(b[i : i+4]),
		seqHeader: packetType == exAudioSequenceStart,
	}
}

func audioFourCC(f []byte) string {
	switch string(f) {
	case "mp4a":
		return CodecAAC
	case "Opus":
		return CodecOpus
	case ".mp3":
		return CodecMP3
	case "fLaC":
		return CodecFLAC
	case "ac-3":
		return CodecAC3
	case "ec-3":
		return CodecEAC3
	}
	return ""
}

// AudioCodec returns the codec of an audio tag body (an RTMP audio message
// payload), legacy or Enhanced RTMP, or "" if it is unknown.
func AudioCodec(payload []byte) string {
	return parseAudioHeader(payload).codec
}
