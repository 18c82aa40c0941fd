package mediaserver

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoal-live/shoal/internal/config"
	"github.com/shoal-live/shoal/internal/stream"
)

// TestE2EFFmpegRepublishKeepsTimestampsIncreasing has an ffmpeg player
// record a stream while its ffmpeg publisher drops and another takes the
// key within the grace period, as an encoder that reconnects does. The
// second publisher's timestamps start again from 0; the node rebases them,
// so the recording's timestamps go on increasing across the change.
func TestE2EFFmpegRepublishKeepsTimestampsIncreasing(t *testing.T) {
	needBinary(t, "ffmpeg", "ffprobe")
	const key = "live/republish"
	n := startNode(t, func(c *config.Node) { c.Stream.PublisherGrace = 10 * time.Second })
	url := n.rtmpURL(key)

	first := ffmpegPublish(t, url, 60*time.Second)
	waitPublishing(t, n, key)
	out := filepath.Join(t.TempDir(), "rec.flv")
	rec, recLog := ffmpegRecorder(t, url, out)
	waitSubscribers(t, n, key, 1)
	waitPackets(t, n, key, 100) // about 1.5 s of media reach the player

	if err := first.Process.Kill(); err != nil {
		t.Fatalf("kill the first publisher: %v", err)
	}
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		info, ok := streamInfo(n, key)
		if !ok || info.Publishing || info.Subscribers != 1 {
			return fmt.Errorf("stream %s = %+v, want no publisher and the player waiting", key, info)
		}
		return nil
	})
	ffmpegPublish(t, url, 60*time.Second)
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if info, _ := streamInfo(n, key); !info.Publishing {
			return fmt.Errorf("stream %s has no publisher again", key)
		}
		return nil
	})
	waitPackets(t, n, key, 140) // about 2 s of the second publisher

	if err := rec.Process.Signal(os.Interrupt); err != nil { // ffmpeg ends the file and exits
		t.Fatalf("interrupt the player: %v", err)
	}
	waitDone := make(chan error, 1)
	go func() { waitDone <- rec.Wait() }()
	select {
	case <-waitDone: // interrupted: the exit status says nothing
	case <-time.After(10 * time.Second):
		t.Fatalf("the ffmpeg player did not stop within 10s of an interrupt")
	}
	if log := recLog.String(); strings.Contains(log, "Non-monotonous DTS") || strings.Contains(log, "non monotonically increasing dts") {
		t.Errorf("the ffmpeg player saw timestamps go back:\n%s", log)
	}

	// The player's muxer turns a step back into a run of equal DTS (and
	// logs it), so the DTS of each stream must strictly increase: 40 ms
	// apart for video at 25 fps, about 23 ms for AAC at 44.1 kHz.
	counts := map[string]int{}
	last := map[string]float64{}
	bad := map[string]int{}
	for _, p := range probePackets(t, out) {
		dts, err := strconv.ParseFloat(p.DTSTime, 64)
		if err != nil {
			t.Fatalf("packet %+v: dts_time: %v", p, err)
		}
		if prev, ok := last[p.CodecType]; ok && dts <= prev {
			if bad[p.CodecType] == 0 {
				t.Errorf("%s DTS does not increase from %.3f s to %.3f s (packet %d of the stream)", p.CodecType, prev, dts, counts[p.CodecType])
			}
			bad[p.CodecType]++
		}
		last[p.CodecType] = dts
		counts[p.CodecType]++
	}
	for typ, n := range bad {
		t.Errorf("%d of %d %s packets do not increase the DTS", n, counts[typ], typ)
	}
	// Both publishers are in the recording: at 25 fps, more than 3 s of
	// video, and as much time in the timestamps.
	if counts["video"] < 75 || counts["audio"] < 100 {
		t.Errorf("recording has %d video and %d audio packets, want at least 75 and 100", counts["video"], counts["audio"])
	}
	if last["video"] < 3 {
		t.Errorf("recording's video ends at %.3f s, want past 3 s", last["video"])
	}
}

// ffmpegRecorder plays url with ffmpeg and copies what it receives into
// an FLV file at out until it is interrupted. It returns the command,
// already started, and its log; the test's cleanup kills it.
func ffmpegRecorder(t *testing.T, url, out string) (*exec.Cmd, *strings.Builder) {
	t.Helper()
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "warning", "-nostdin", "-y",
		"-i", url, "-c", "copy", "-f", "flv", out)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ffmpeg player: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("player ffmpeg stderr:\n%s", stderr.String())
		}
	})
	return cmd, &stderr
}

func streamInfo(n *testNode, key string) (stream.Info, bool) {
	for _, s := range n.streams.Streams() {
		if s.Key == key {
			return s, true
		}
	}
	return stream.Info{}, false
}

func waitSubscribers(t *testing.T, n *testNode, key string, want int) {
	t.Helper()
	checkFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		if info, _ := streamInfo(n, key); info.Subscribers != want {
			return fmt.Errorf("stream %s has %d subscribers, want %d", key, info.Subscribers, want)
		}
		return nil
	})
}

// waitPackets waits until the publishers of key have written count more
// packets.
func waitPackets(t *testing.T, n *testNode, key string, count uint64) {
	t.Helper()
	start := packetsIn(n, key)
	checkFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		if got := packetsIn(n, key) - start; got < count {
			return fmt.Errorf("stream %s: %d packets in, want %d", key, got, count)
		}
		return nil
	})
}

type probePacket struct {
	CodecType string `json:"codec_type"`
	DTSTime   string `json:"dts_time"`
}

// probePackets lists the packets of file with ffprobe, in file order.
func probePackets(t *testing.T, file string) []probePacket {
	t.Helper()
	b, err := exec.Command("ffprobe", "-v", "error", "-show_packets",
		"-of", "json", file).Output()
	if err != nil {
		t.Fatalf("ffprobe -show_packets %s: %v", file, err)
	}
	var out struct{ Packets []probePacket }
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("ffprobe json: %v", err)
	}
	return out.Packets
}
