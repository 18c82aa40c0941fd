package flv

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrNotSequenceHeader is returned by ParseVideoInfo for a payload that is
// not a video sequence header.
var ErrNotSequenceHeader = errors.New("not a video sequence header")

// VideoInfo describes the video of a sequence header.
type VideoInfo struct {
	Codec   string // as VideoCodec returns it
	Width   int    // picture width in pixels after cropping; 0 if unknown
	Height  int    // picture height in pixels after cropping; 0 if unknown
	Profile string // e.g. "High", "Main 10"; "" if unknown
	Level   string // e.g. "4.1"; "" if unknown
}

// ParseVideoInfo reads a video sequence header (a packet with
// SequenceHeader set). It always returns the codec; it reads the picture
// size, profile and level of H.264 (AVCDecoderConfigurationRecord and its
// first SPS) and HEVC (hvcC and its first SPS), and the profile and level of
// AV1 (av1C). It returns ErrNotSequenceHeader for other payloads and an
// error naming the field for a configuration record it cannot read.
func ParseVideoInfo(payload []byte) (VideoInfo, error) {
	h := parseVideoHeader(payload)
	if !h.seqHeader {
		return VideoInfo{}, ErrNotSequenceHeader
	}
	info := VideoInfo{Codec: h.codec}
	if h.config == 0 {
		return info, nil
	}
	rec := payload[min(h.config, len(payload)):]
	var err error
	switch h.codec {
	case CodecH264:
		err = parseAVCConfig(rec, &info)
	case CodecHEVC:
		err = parseHEVCConfig(rec, &info)
	case CodecAV1:
		err = parseAV1Config(rec, &info)
	}
	return info, err
}

// parseAVCConfig reads an AVCDecoderConfigurationRecord (ISO/IEC 14496-15
// 5.3.3.1) and its first SPS.
func parseAVCConfig(rec []byte, info *VideoInfo) error {
	if len(rec) < 6 {
		return fmt.Errorf("read avc decoder configuration record: %d bytes, want at least 6", len(rec))
	}
	if rec[0] != 1 {
		return fmt.Errorf("read avc decoder configuration record: version %d, want 1", rec[0])
	}
	info.Profile = avcProfile(rec[1])
	info.Level = avcLevel(rec[3])
	if rec[5]&0x1f == 0 {
		return errors.New("read avc decoder configuration record: no sps")
	}
	sps, _, ok := lengthPrefixed(rec, 6)
	if !ok {
		return errors.New("read avc decoder configuration record: sps length beyond the record")
	}
	w, h, err := avcPictureSize(sps)
	if err != nil {
		return fmt.Errorf("read avc sps: %w", err)
	}
	info.Width, info.Height = w, h
	return nil
}

// lengthPrefixed returns the bytes after the 16-bit length at b[i] and the
// offset after them.
func lengthPrefixed(b []byte, i int) ([]byte, int, bool) {
	if len(b) < i+2 {
		return nil, 0, false
	}
	n := int(b[i])<<8 | int(b[i+1])
	i += 2
	if len(b) < i+n {
		return nil, 0, false
	}
	return b[i : i+n], i + n, true
}

var errSPSTruncated = errors.New("truncated")

// avcPictureSize reads the cropped picture size from an H.264 SPS NAL unit
// (ITU-T H.264 7.3.2.1.1).
func avcPictureSize(nal []byte) (int, int, error) {
	if len(nal) < 4 {
		return 0, 0, errSPSTruncated
	}
	if nal[0]&0x1f != 7 {
		return 0, 0, fmt.Errorf("nal unit type %d, want 7", nal[0]&0x1f)
	}
	profile := nal[1]
	r := bitReader{b: nal[4:]} // after profile_idc, constraint flags, level_idc
	r.ue()                     // seq_parameter_set_id
	chroma := uint32(1)
	separateColourPlane := false
	switch profile {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
		chroma = r.ue()
		if chroma == 3 {
			separateColourPlane = r.u(1) == 1
		}
		r.ue()           // bit_depth_luma_minus8
		r.ue()           // bit_depth_chroma_minus8
		r.u(1)           // qpprime_y_zero_transform_bypass_flag
		if r.u(1) == 1 { // seq_scaling_matrix_present_flag
			lists := 8
			if chroma == 3 {
				lists = 12
			}
			for i := 0; i < lists && !r.failed; i++ {
				if r.u(1) == 1 {
					size := 16
					if i >= 6 {
						size = 64
					}
					skipScalingList(&r, size)
				}
			}
		}
	}
	r.ue()          // log2_max_frame_num_minus4
	switch r.ue() { // pic_order_cnt_type
	case 0:
		r.ue() // log2_max_pic_order_cnt_lsb_minus4
	case 1:
		r.u(1)      // delta_pic_order_always_zero_flag
		r.se()      // offset_for_non_ref_pic
		r.se()      // offset_for_top_to_bottom_field
		n := r.ue() // num_ref_frames_in_pic_order_cnt_cycle, at most 255
		if n > 255 {
			return 0, 0, fmt.Errorf("num_ref_frames_in_pic_order_cnt_cycle %d, want at most 255", n)
		}
		for i := uint32(0); i < n && !r.failed; i++ {
			r.se()
		}
	}
	r.ue() // max_num_ref_frames
	r.u(1) // gaps_in_frame_num_value_allowed_flag
	widthMBs := uint64(r.ue()) + 1
	heightMapUnits := uint64(r.ue()) + 1
	frameMBsOnly := uint64(r.u(1))
	if frameMBsOnly == 0 {
		r.u(1) // mb_adaptive_frame_field_flag
	}
	r.u(1) // direct_8x8_inference_flag
	var cropL, cropR, cropT, cropB uint64
	if r.u(1) == 1 {
		cropL, cropR, cropT, cropB = uint64(r.ue()), uint64(r.ue()), uint64(r.ue()), uint64(r.ue())
	}
	if r.failed {
		return 0, 0, errSPSTruncated
	}
	subW, subH := chromaSubsampling(chroma, separateColourPlane)
	cropUnitX, cropUnitY := subW, subH*(2-frameMBsOnly)
	w := int64(widthMBs*16) - int64((cropL+cropR)*cropUnitX)
	h := int64((2-frameMBsOnly)*heightMapUnits*16) - int64((cropT+cropB)*cropUnitY)
	return checkSize(w, h)
}

// chromaSubsampling returns SubWidthC and SubHeightC, or 1 and 1 when there
// is no chroma array (monochrome or separate colour planes), which is the
// crop unit H.264 and HEVC then use.
func chromaSubsampling(chroma uint32, separateColourPlane bool) (uint64, uint64) {
	if separateColourPlane {
		return 1, 1
	}
	switch chroma {
	case 1:
		return 2, 2
	case 2:
		return 2, 1
	}
	return 1, 1
}

func checkSize(w, h int64) (int, int, error) {
	if w <= 0 || h <= 0 || w > 1<<16 || h > 1<<16 {
		return 0, 0, fmt.Errorf("picture size %dx%d out of range", w, h)
	}
	return int(w), int(h), nil
}

func skipScalingList(r *bitReader, size int) {
	last, next := int32(8), int32(8)
	for j := 0; j < size && !r.failed; j++ {
		if next != 0 {
			next = (last + r.se() + 256) % 256
		}
		if next != 0 {
			last = next
		}
	}
}

// parseHEVCConfig reads an HEVCDecoderConfigurationRecord (ISO/IEC 14496-15
// 8.3.3.1) and the first SPS in its arrays.
func parseHEVCConfig(rec []byte, info *VideoInfo) error {
	if len(rec) < 23 {
		return fmt.Errorf("read hevc decoder configuration record: %d bytes, want at least 23", len(rec))
	}
	if rec[0] != 1 {
		return fmt.Errorf("read hevc decoder configuration record: version %d, want 1", rec[0])
	}
	info.Profile = hevcProfile(rec[1] & 0x1f)
	info.Level = hevcLevel(rec[12])
	arrays, i := int(rec[22]), 23
	for range arrays {
		if len(rec) < i+3 {
			break
		}
		nalType := rec[i] & 0x3f
		n := int(rec[i+1])<<8 | int(rec[i+2])
		i += 3
		for range n {
			nal, next, ok := lengthPrefixed(rec, i)
			if !ok {
				return errors.New("read hevc decoder configuration record: nal unit length beyond the record")
			}
			i = next
			if nalType == 33 {
				w, h, err := hevcPictureSize(nal)
				if err != nil {
					return fmt.Errorf("read hevc sps: %w", err)
				}
				info.Width, info.Height = w, h
				return nil
			}
		}
	}
	return errors.New("read hevc decoder configuration record: no sps")
}

// hevcPictureSize reads the cropped picture size from an HEVC SPS NAL unit
// (ITU-T H.265 7.3.2.2.1).
func hevcPictureSize(nal []byte) (int, int, error) {
	if len(nal) < 3 {
		return 0, 0, errSPSTruncated
	}
	r := bitReader{b: nal[2:]} // after the two-byte NAL unit header
	r.u(4)                     // sps_video_parameter_set_id
	maxSubLayersMinus1 := int(r.u(3))
	r.u(1) // sps_temporal_id_nesting_flag
	// profile_tier_level(1, maxSubLayersMinus1): the general part is 96 bits.
	r.skip(96)
	var profilePresent, levelPresent [8]bool
	for i := range maxSubLayersMinus1 {
		profilePresent[i] = r.u(1) == 1
		levelPresent[i] = r.u(1) == 1
	}
	if maxSubLayersMinus1 > 0 {
		r.skip(2 * (8 - maxSubLayersMinus1)) // reserved_zero_2bits
	}
	for i := range maxSubLayersMinus1 {
		if profilePresent[i] {
			r.skip(88)
		}
		if levelPresent[i] {
			r.skip(8)
		}
	}
	r.ue() // sps_seq_parameter_set_id
	chroma := r.ue()
	separateColourPlane := false
	if chroma == 3 {
		separateColourPlane = r.u(1) == 1
	}
	w, h := uint64(r.ue()), uint64(r.ue())
	if r.u(1) == 1 { // conformance_window_flag
		subW, subH := chromaSubsampling(chroma, separateColourPlane)
		l, rt, t, b := uint64(r.ue()), uint64(r.ue()), uint64(r.ue()), uint64(r.ue())
		w -= min(w, subW*(l+rt))
		h -= min(h, subH*(t+b))
	}
	if r.failed {
		return 0, 0, errSPSTruncated
	}
	return checkSize(int64(w), int64(h))
}

// parseAV1Config reads the profile and level of an AV1CodecConfigurationRecord
// (AV1 ISOBMFF binding 2.3.3).
func parseAV1Config(rec []byte, info *VideoInfo) error {
	if len(rec) < 4 {
		return fmt.Errorf("read av1 codec configuration record: %d bytes, want at least 4", len(rec))
	}
	if rec[0] != 0x81 {
		return fmt.Errorf("read av1 codec configuration record: marker and version %#x, want 0x81", rec[0])
	}
	switch rec[1] >> 5 {
	case 0:
		info.Profile = "Main"
	case 1:
		info.Profile = "High"
	case 2:
		info.Profile = "Professional"
	}
	if idx := rec[1] & 0x1f; idx < 24 { // 31 means no level constraint
		info.Level = strconv.Itoa(2+int(idx>>2)) + "." + strconv.Itoa(int(idx&3))
	}
	return nil
}

func avcProfile(p byte) string {
	switch p {
	case 66:
		return "Baseline"
	case 77:
		return "Main"
	case 88:
		return "Extended"
	case 100:
		return "High"
	case 110:
		return "High 10"
	case 122:
		return "High 4:2:2"
	case 244:
		return "High 4:4:4 Predictive"
	case 44:
		return "CAVLC 4:4:4 Intra"
	}
	return strconv.Itoa(int(p))
}

// avcLevel formats level_idc: 41 is "4.1", 9 is "1b".
func avcLevel(l byte) string {
	if l == 9 {
		return "1b"
	}
	if l%10 == 0 {
		return strconv.Itoa(int(l / 10))
	}
	return strconv.Itoa(int(l/10)) + "." + strconv.Itoa(int(l%10))
}

func hevcProfile(p byte) string {
	switch p {
	case 1:
		return "Main"
	case 2:
		return "Main 10"
	case 3:
		return "Main Still Picture"
	case 4:
		return "Range Extensions"
	}
	return strconv.Itoa(int(p))
}

// hevcLevel formats general_level_idc, which is 30 times the level: 93 is
// "3.1", 120 is "4".
func hevcLevel(l byte) string {
	major, minor := int(l)/30, int(l)%30/3
	if minor == 0 {
		return strconv.Itoa(major)
	}
	return strconv.Itoa(major) + "." + strconv.Itoa(minor)
}
