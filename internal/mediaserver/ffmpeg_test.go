package mediaserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-live/shoal/internal/flv"
)

// ffmpegPublish publishes a generated H.264 + AAC stream (testsrc and a
// sine tone) to url in real time for dur. It returns the command, already
// started; the test's cleanup kills it.
func ffmpegPublish(t *testing.T, url string, dur time.Duration) *exec.Cmd {
	t.Helper()
	needBinary(t, "ffmpeg")
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
		"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-b:a", "64k",
		"-t", fmt.Sprintf("%.0f", dur.Seconds()),
		"-f", "flv", url)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ffmpeg: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("publisher ffmpeg stderr:\n%s", stderr.String())
		}
	})
	return cmd
}

// ffmpegRecord plays url with ffmpeg for dur and writes what it received,
// untranscoded, into an FLV file.
func ffmpegRecord(ctx context.Context, url, out string, dur time.Duration) error {
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
		"-i", url, "-t", fmt.Sprintf("%.1f", dur.Seconds()), "-c", "copy", "-f", "flv", out)
	b, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("ffmpeg play %s: %w: %s", url, err, b)
	}
	return nil
}

type probeStream struct {
	CodecType    string `json:"codec_type"`
	CodecName    string `json:"codec_name"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	AvgFrameRate string `json:"avg_frame_rate"`
	RFrameRate   string `json:"r_frame_rate"`
}

func ffprobe(t *testing.T, file string) []probeStream {
	t.Helper()
	needBinary(t, "ffprobe")
	b, err := exec.Command("ffprobe", "-v", "error", "-show_streams", "-of", "json", file).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", file, err)
	}
	var out struct{ Streams []probeStream }
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("ffprobe json: %v", err)
	}
	return out.Streams
}

func waitPublishing(t *testing.T, n *testNode, key string) {
	t.Helper()
	checkFor(t, 20*time.Second, 100*time.Millisecond, func() error {
		for _, s := range n.streams.Streams() {
			if s.Key == key && s.Publishing && s.PacketsIn > 30 {
				return nil
			}
		}
		return fmt.Errorf("stream %s not publishing with packets yet", key)
	})
}

func checkProbe(t *testing.T, streams []probeStream) {
	t.Helper()
	var video, audio *probeStream
	for i := range streams {
		switch streams[i].CodecType {
		case "video":
			video = &streams[i]
		case "audio":
			audio = &streams[i]
		}
	}
	if video == nil || audio == nil {
		t.Fatalf("ffprobe found streams %+v, want one video and one audio", streams)
	}
	if video.CodecName != "h264" || video.Width != 320 || video.Height != 240 {
		t.Errorf("video = %s %dx%d, want h264 320x240", video.CodecName, video.Width, video.Height)
	}
	if video.RFrameRate != "25/1" && video.AvgFrameRate != "25/1" {
		t.Errorf("video frame rate = r %s avg %s, want 25/1", video.RFrameRate, video.AvgFrameRate)
	}
	if audio.CodecName != "aac" {
		t.Errorf("audio codec = %s, want aac", audio.CodecName)
	}
}

func TestE2EFFmpegPublishAndPlay(t *testing.T) {
	n := startNode(t, nil)
	ffmpegPublish(t, n.rtmpURL("live/test"), 30*time.Second)
	waitPublishing(t, n, "live/test")

	// Two ffmpeg players at once, and the Go client.
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() {
			errs[i] = ffmpegRecord(ctx, n.rtmpURL("live/test"), filepath.Join(dir, fmt.Sprintf("p%d.flv", i)), 3*time.Second)
		})
	}
	var goPackets []*flv.Packet
	wg.Go(func() {
		c := dial(t, n.rtmpURL("live"))
		if err := c.Play(ctx, "test"); err != nil {
			t.Errorf("Go client Play: %v", err)
			return
		}
		for len(goPackets) < 150 {
			p, err := c.ReadPacket()
			if err != nil {
				t.Errorf("Go client ReadPacket after %d packets: %v", len(goPackets), err)
				return
			}
			goPackets = append(goPackets, p)
		}
	})
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("player %d: %v", i, err)
		}
		checkProbe(t, ffprobe(t, filepath.Join(dir, fmt.Sprintf("p%d.flv", i))))
	}
	checkStartsOnKeyframe(t, goPackets)
	goFile := filepath.Join(dir, "go.flv")
	writeFLV(t, goFile, goPackets)
	checkProbe(t, ffprobe(t, goFile))
	var codecs []string
	for _, p := range goPackets {
		if p.SequenceHeader {
			switch p.Type {
			case flv.PacketVideo:
				codecs = append(codecs, flv.VideoCodec(p.Payload))
			case flv.PacketAudio:
				codecs = append(codecs, flv.AudioCodec(p.Payload))
			}
		}
	}
	if !strings.Contains(strings.Join(codecs, ","), "H264") || !strings.Contains(strings.Join(codecs, ","), "AAC") {
		t.Errorf("Go client sequence headers: %v, want H264 and AAC", codecs)
	}

	// The HTTP API reports the stream and both kinds of subscribers went away.
	resp, err := http.Get(n.httpURL("/api/v1/streams"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), `"key": "live/test"`) || !strings.Contains(string(body), `"video_codec": "H264"`) {
		t.Errorf("/api/v1/streams = %s, want live/test with H264", body)
	}
}

// writeFLV writes packets as an FLV file, so that ffprobe can judge what a
// Go client received.
func writeFLV(t *testing.T, path string, pkts []*flv.Packet) {
	t.Helper()
	b := []byte{'F', 'L', 'V', 1, 0x05, 0, 0, 0, 9, 0, 0, 0, 0}
	for _, p := range pkts {
		n := len(p.Payload)
		ts := p.Timestamp
		b = append(b, byte(p.Type), byte(n>>16), byte(n>>8), byte(n),
			byte(ts>>16), byte(ts>>8), byte(ts), byte(ts>>24), 0, 0, 0)
		b = append(b, p.Payload...)
		size := uint32(n + 11)
		b = append(b, byte(size>>24), byte(size>>16), byte(size>>8), byte(size))
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// checkStartsOnKeyframe checks that the first video packet that is not a
// sequence header is a keyframe, and that sequence headers come first.
func checkStartsOnKeyframe(t *testing.T, pkts []*flv.Packet) {
	t.Helper()
	sawHeader := false
	for _, p := range pkts {
		if p.Type != flv.PacketVideo {
			continue
		}
		if p.SequenceHeader {
			sawHeader = true
			continue
		}
		if !sawHeader {
			t.Errorf("video frame before the video sequence header")
		}
		if !p.Keyframe {
			t.Errorf("first video frame at %d ms is not a keyframe", p.Timestamp)
		}
		return
	}
	t.Errorf("no video frame among %d packets", len(pkts))
}

func TestE2ESecondPublisherGetsBadName(t *testing.T) {
	n := startNode(t, nil)
	ffmpegPublish(t, n.rtmpURL("live/taken"), 30*time.Second)
	waitPublishing(t, n, "live/taken")

	c := dial(t, n.rtmpURL("live"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := c.Publish(ctx, "taken")
	if !isStatus(err, "NetStream.Publish.BadName") {
		t.Fatalf("second Publish = %v, want NetStream.Publish.BadName", err)
	}
	// The first publisher keeps going: a late player still receives media.
	before := packetsIn(n, "live/taken")
	checkFor(t, 10*time.Second, 100*time.Millisecond, func() error {
		if now := packetsIn(n, "live/taken"); now <= before+25 {
			return fmt.Errorf("first publisher stalled: packets %d -> %d", before, now)
		}
		return nil
	})
	p := dial(t, n.rtmpURL("live"))
	if err := p.Play(ctx, "taken"); err != nil {
		t.Fatalf("Play: %v", err)
	}
	var pkts []*flv.Packet
	for len(pkts) < 60 {
		pk, err := p.ReadPacket()
		if err != nil {
			t.Fatalf("ReadPacket: %v", err)
		}
		pkts = append(pkts, pk)
	}
	checkStartsOnKeyframe(t, pkts)
}

func packetsIn(n *testNode, key string) uint64 {
	for _, s := range n.streams.Streams() {
		if s.Key == key {
			return s.PacketsIn
		}
	}
	return 0
}

func TestE2EPlayUnknownStream(t *testing.T) {
	n := startNode(t, nil)
	c := dial(t, n.rtmpURL("live"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Play(ctx, "nothing"); !isStatus(err, "NetStream.Play.StreamNotFound") {
		t.Fatalf("Play(nothing) = %v, want NetStream.Play.StreamNotFound", err)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("Play did not answer")
	}
}
