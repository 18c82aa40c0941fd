package bench

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"time"
)

// ClipConfig configures MakeClip.
type ClipConfig struct {
	// Out is the FLV file to write (overwritten).
	Out string
	// VideoBitrate is the video bit rate in bits per second (2,500,000 if
	// zero); audio adds 128 kbit/s.
	VideoBitrate int
	// Duration is the clip length (20s if zero).
	Duration time.Duration
	// FFmpeg is the ffmpeg program ("ffmpeg" if empty).
	FFmpeg string
}

// ClipArgs returns the ffmpeg arguments that make the test clip: testsrc2
// at 1280x720 and 30 fps with a 440 Hz sine, H.264 (libx264, constant bit
// rate with filler, a keyframe every 60 frames) and AAC-LC at 128 kbit/s,
// in FLV.
func ClipArgs(cfg ClipConfig) []string {
	rate := cfg.VideoBitrate
	if rate <= 0 {
		rate = 2_500_000
	}
	d := cfg.Duration
	if d <= 0 {
		d = 20 * time.Second
	}
	br := strconv.Itoa(rate)
	return []string{
		"-hide_banner", "-loglevel", "error", "-nostdin", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-t", strconv.FormatFloat(d.Seconds(), 'f', -1, 64),
		"-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-pix_fmt", "yuv420p",
		"-b:v", br, "-minrate", br, "-maxrate", br, "-bufsize", strconv.Itoa(rate),
		"-x264-params", "nal-hrd=cbr:force-cfr=1",
		"-g", "60", "-keyint_min", "60", "-sc_threshold", "0",
		"-c:a", "aac", "-b:a", "128k", "-ar", "44100", "-ac", "2",
		"-f", "flv", cfg.Out,
	}
}

// MakeClip runs ffmpeg to write the test clip described by ClipArgs.
func MakeClip(ctx context.Context, cfg ClipConfig) error {
	if cfg.Out == "" {
		return fmt.Errorf("make clip: no output file")
	}
	prog := cfg.FFmpeg
	if prog == "" {
		prog = "ffmpeg"
	}
	cmd := exec.CommandContext(ctx, prog, ClipArgs(cfg)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("make clip %s: %s: %w: %s", cfg.Out, prog, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return nil
}
