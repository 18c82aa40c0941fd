package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/shoal-live/shoal/internal/flv"
)

// needFFmpeg fails the test loudly when ffmpeg is missing: `make test`
// installs it.
func needFFmpeg(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		if os.Getenv("SHOAL_ALLOW_MISSING_TOOLS") != "" {
			t.Skip("SKIPPED LOUDLY: ffmpeg not installed (SHOAL_ALLOW_MISSING_TOOLS set); run scripts/test-deps.sh")
		}
		t.Fatal("ffmpeg not installed: run scripts/test-deps.sh (make test does)")
	}
}

func TestMakeClip(t *testing.T) {
	needFFmpeg(t)
	out := filepath.Join(t.TempDir(), "clip.flv")
	if err := MakeClip(t.Context(), ClipConfig{Out: out, VideoBitrate: 1_000_000, Duration: 4 * time.Second}); err != nil {
		t.Fatalf("MakeClip: %v", err)
	}
	clip, err := LoadClip(out)
	if err != nil {
		t.Fatalf("LoadClip: %v", err)
	}
	if d := clip.Length(); d < 3900*time.Millisecond || d > 4200*time.Millisecond {
		t.Errorf("Length = %s, want about 4s", d)
	}
	var keyframes, seqHeaders, video, audio int
	for _, p := range clip.packets {
		switch {
		case p.SequenceHeader:
			seqHeaders++
		case p.Keyframe:
			keyframes++
			video++
		case p.Type == flv.PacketVideo:
			video++
		case p.Type == flv.PacketAudio:
			audio++
		}
	}
	// 120 frames with a keyframe every 60; AAC at 44.1 kHz has 43 frames a second.
	if keyframes != 2 || seqHeaders != 2 || video < 119 || video > 122 || audio < 160 || audio > 180 {
		t.Errorf("%d keyframes, %d sequence headers, %d video and %d audio frames: want 2, 2, about 120, about 172",
			keyframes, seqHeaders, video, audio)
	}
	if kbps := clipKbps(clip); kbps < 1128*0.8 || kbps > 1128*1.2 {
		t.Errorf("bit rate = %.0f kbit/s, want about 1128 (1000 video + 128 audio)", kbps)
	}
}

func TestMakeClipReportsFFmpegErrors(t *testing.T) {
	needFFmpeg(t)
	err := MakeClip(t.Context(), ClipConfig{Out: filepath.Join(t.TempDir(), "no", "such", "dir", "clip.flv"), Duration: time.Second})
	if err == nil {
		t.Fatal("MakeClip into a missing directory: no error")
	}
	t.Logf("error: %v", err)
}
