package flv

// Video codec names returned by VideoCodec and VideoInfo.Codec.
const (
	CodecH263         = "H263" // Sorenson H.263, legacy CodecID 2
	CodecScreenVideo  = "ScreenVideo"
	CodecVP6          = "VP6"
	CodecVP6Alpha     = "VP6Alpha"
	CodecScreenVideo2 = "ScreenVideo2"
	CodecH264         = "H264" // legacy CodecID 7, Enhanced RTMP 'avc1'
	CodecHEVC         = "HEVC" // legacy CodecID 12 (a widespread extension), Enhanced RTMP 'hvc1'
	CodecAV1          = "AV1"  // Enhanced RTMP 'av01'
	CodecVP8          = "VP8"  // Enhanced RTMP 'vp08'
	CodecVP9          = "VP9"  // Enhanced RTMP 'vp09'
	CodecVVC          = "VVC"  // Enhanced RTMP 'vvc1'
)

// Legacy FLV video CodecID values (low nibble of the first byte).
const (
	videoCodecH263         = 2
	videoCodecScreenVideo  = 3
	videoCodecVP6          = 4
	videoCodecVP6Alpha     = 5
	videoCodecScreenVideo2 = 6
	videoCodecAVC          = 7
	videoCodecHEVC         = 12
)

// Video frame types (high nibble of the first byte; three bits with the
// Enhanced RTMP IsExHeader flag).
const (
	frameKey     = 1
	frameCommand = 5 // video info/command frame: carries no picture
)

// Enhanced RTMP video packet types (low nibble of the first byte when the
// IsExHeader bit is set).
const (
	exVideoSequenceStart        = 0
	exVideoCodedFrames          = 1
	exVideoCodedFramesX         = 3
	exVideoMetadata             = 4
	exVideoMPEG2TSSequenceStart = 5
	exVideoMultitrack           = 6
	exVideoModEx                = 7
)

// isExHeader marks an Enhanced RTMP video tag header.
const isExHeader = 0x80

// videoHeader is what the first bytes of a video tag body say.
type videoHeader struct {
	codec     string
	keyframe  bool // coded frames of frame type 1
	seqHeader bool // decoder configuration
	// config is the offset of the decoder configuration record of a
	// sequence header (AVCDecoderConfigurationRecord, hvcC, av1C, …), or 0
	// when unknown.
	config int
}

// parseVideoHeader reads the tag header of a video tag body, legacy or
// Enhanced RTMP. It reads only what it needs and never fails: what it cannot
// read is left zero.
func parseVideoHeader(b []byte) videoHeader {
	if len(b) == 0 {
		return videoHeader{}
	}
	if b[0]&isExHeader != 0 {
		return parseExVideoHeader(b)
	}
	var h videoHeader
	frameType := b[0] >> 4
	switch b[0] & 0x0f {
	case videoCodecAVC, videoCodecHEVC:
		if b[0]&0x0f == videoCodecAVC {
			h.codec = CodecH264
		} else {
			h.codec = CodecHEVC
		}
		// AVCPacketType: 0 sequence header, 1 NALUs, 2 end of sequence;
		// then a 24-bit composition time offset.
		if len(b) < 2 || frameType == frameCommand {
			return h
		}
		switch b[1] {
		case 0:
			h.seqHeader = true
			h.config = 5
		case 1:
			h.keyframe = frameType == frameKey
		}
		return h
	case videoCodecH263:
		h.codec = CodecH263
	case videoCodecScreenVideo:
		h.codec = CodecScreenVideo
	case videoCodecVP6:
		h.codec = CodecVP6
	case videoCodecVP6Alpha:
		h.codec = CodecVP6Alpha
	case videoCodecScreenVideo2:
		h.codec = CodecScreenVideo2
	default:
		return h
	}
	h.keyframe = frameType == frameKey
	return h
}

// parseExVideoHeader reads an Enhanced RTMP (v1 and v2) ExVideoTagHeader:
//
//	UB[1] IsExHeader | UB[3] FrameType | UB[4] PacketType
//	while PacketType == ModEx: modifier data, then UB[4] ModExType | UB[4] PacketType
//	if FrameType == Command and PacketType != Metadata: UI8 command, no FourCC
//	if PacketType == Multitrack: UB[4] AvMultitrackType | UB[4] PacketType,
//	   then a FourCC unless ManyTracksManyCodecs (then each track starts with one)
//	else FourCC
func parseExVideoHeader(b []byte) videoHeader {
	var h videoHeader
	frameType := (b[0] >> 4) & 0x07
	packetType, i, ok := skipModEx(b, b[0]&0x0f, 1, exVideoModEx)
	if !ok {
		return h
	}
	if frameType == frameCommand && packetType != exVideoMetadata {
		return h
	}
	// trackHeader is what follows the FourCC before the track's data:
	// a track id in multitrack mode, plus a 24-bit size with many tracks.
	trackHeader := 0
	if packetType == exVideoMultitrack {
		if i >= len(b) {
			return h
		}
		mt := b[i] >> 4
		packetType = b[i] & 0x0f
		i++
		switch mt {
		case 0: // OneTrack
			trackHeader = 1
		default: // ManyTracks, ManyTracksManyCodecs: the first track
			trackHeader = 4
		}
	}
	if len(b) < i+4 {
		return h
	}
	h.codec = videoFourCC(b[i : i+4])
	i += 4 + trackHeader
	switch packetType {
	case exVideoSequenceStart, exVideoMPEG2TSSequenceStart:
		h.seqHeader = true
		if packetType == exVideoSequenceStart && i < len(b) {
			h.config = i
		}
	case exVideoCodedFrames, exVideoCodedFramesX:
		h.keyframe = frameType == frameKey
	}
	return h
}

// skipModEx skips the Enhanced RTMP ModEx prefixes that start at b[i] while
// packetType is modEx, and returns the real packet type and the offset after
// the prefixes. The format is the same for audio and video:
//
//	UI8 size-1 (if 255: UI16 size-1), size bytes, UB[4] ModExType | UB[4] PacketType
func skipModEx(b []byte, packetType byte, i int, modEx byte) (byte, int, bool) {
	for packetType == modEx {
		if i >= len(b) {
			return 0, 0, false
		}
		size := int(b[i]) + 1
		i++
		if size == 256 {
			if len(b) < i+2 {
				return 0, 0, false
			}
			size = (int(b[i])<<8 | int(b[i+1])) + 1
			i += 2
		}
		i += size
		if i >= len(b) {
			return 0, 0, false
		}
		packetType = b[i] & 0x0f
		i++
	}
	return packetType, i, true
}

func videoFourCC(f []byte) string {
	switch string(f) { // no allocation: the compiler compares in place
	case "avc1":
		return CodecH264
	case "hvc1":
		return CodecHEVC
	case "av01":
		return CodecAV1
	case "vp09":
		return CodecVP9
	case "vp08":
		return CodecVP8
	case "vvc1":
		return CodecVVC
	}
	return ""
}

// VideoCodec returns the codec of a video tag body (an RTMP video message
// payload), legacy or Enhanced RTMP, or "" if it is unknown or the payload
// carries no codec (an Enhanced RTMP command frame, an empty payload).
func VideoCodec(payload []byte) string {
	return parseVideoHeader(payload).codec
}
