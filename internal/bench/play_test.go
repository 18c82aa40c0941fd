package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-live/shoal/internal/config"
	"github.com/shoal-live/shoal/internal/flv"
	"github.com/shoal-live/shoal/internal/mediaserver/mediaservertest"
	"github.com/shoal-live/shoal/internal/rtmp"
	"github.com/shoal-live/shoal/internal/rtmp/rtmptest"
)

// checkFor polls f until it returns nil or the timeout passes.
func checkFor(t *testing.T, timeout, interval time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(interval)
	}
}

// flvFile encodes packets as an FLV file.
func flvFile(pkts []*flv.Packet) []byte {
	b := []byte{'F', 'L', 'V', 1, 5, 0, 0, 0, 9, 0, 0, 0, 0}
	for _, p := range pkts {
		n, ts := len(p.Payload), p.Timestamp
		b = append(b, byte(p.Type), byte(n>>16), byte(n>>8), byte(n), byte(ts>>16), byte(ts>>8), byte(ts), byte(ts>>24), 0, 0, 0)
		b = append(b, p.Payload...)
		b = binary.BigEndian.AppendUint32(b, uint32(11+n))
	}
	return b
}

// testClip is rtmptest.Stream(gops, 25) as a Clip: gops seconds of 25 fps
// H.264 and AAC, with timestamps starting at 1000 to check the shift to 0.
func testClip(t *testing.T, gops int) *Clip {
	t.Helper()
	pkts := rtmptest.Stream(gops, 25)
	for i, p := range pkts {
		pkts[i] = flv.NewPacket(p.Type, p.Timestamp+1000, p.Payload)
	}
	c, err := ReadClip(bytes.NewReader(flvFile(pkts)))
	if err != nil {
		t.Fatalf("ReadClip: %v", err)
	}
	return c
}

// clipKbps is the payload bit rate of testClip.
func clipKbps(c *Clip) float64 {
	var n int
	for _, p := range c.packets {
		n += len(p.Payload)
	}
	return float64(n) * 8 / c.length.Seconds() / 1000
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// waitPublishing waits until the node says key is being published.
func waitPublishing(t *testing.T, n *mediaservertest.Node, key string) {
	t.Helper()
	checkFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, n.HTTPURL("/api/v1/streams"), nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var body struct {
			Streams []struct {
				Key        string `json:"key"`
				Publishing bool   `json:"publishing"`
			} `json:"streams"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			return err
		}
		for _, s := range body.Streams {
			if s.Key == key && s.Publishing {
				return nil
			}
		}
		return fmt.Errorf("stream %s not published: %+v", key, body.Streams)
	})
}

// publishInBackground publishes clip in a loop until the test ends.
func publishInBackground(t *testing.T, url string, clip *Clip) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		_, err := PublishClip(ctx, PublishConfig{URL: url, Loop: true, Logger: testLogger(t)}, clip)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("PublishClip = %v, want context.Canceled", err)
		}
	})
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
}

func TestPlayMeasuresEverySession(t *testing.T) {
	node := mediaservertest.Start(t, nil)
	clip := testClip(t, 2)
	publishInBackground(t, node.RTMPURL("live/bench"), clip)
	waitPublishing(t, node, "live/bench")

	r, err := Play(t.Context(), PlayConfig{
		URL:        node.RTMPURL("live/bench"),
		Sessions:   20,
		Ramp:       200 * time.Millisecond,
		Duration:   3 * time.Second,
		Stall:      time.Second,
		ServerPIDs: []int{1 << 30}, // gone: unreadable, not fatal
		Logger:     testLogger(t),
	})
	if err != nil {
		t.Fatalf("Play: %v", err)
	}
	t.Logf("report: %+v", r)
	if r.Connected != 20 || r.Failed != 0 || r.Dropped != 0 || r.Stalled != 0 || r.NeverReceived != 0 || len(r.Errors) != 0 {
		t.Errorf("connected %d, failed %d, dropped %d, stalled %d, never received %d, errors %v: want 20 and zeros",
			r.Connected, r.Failed, r.Dropped, r.Stalled, r.NeverReceived, r.Errors)
	}
	want := clipKbps(clip)
	for name, got := range map[string]float64{"p50": r.BitrateP50Kbps, "p5": r.BitrateP5Kbps} {
		// A 3 s window over 1 s GOPs: within a GOP's share of bytes.
		if got < want*0.6 || got > want*1.4 {
			t.Errorf("bitrate %s = %.0f kbit/s, want about %.0f", name, got, want)
		}
	}
	if r.TotalKbps < 20*want*0.6 {
		t.Errorf("total = %.0f kbit/s, want about %.0f", r.TotalKbps, 20*want)
	}
	if r.WindowS < 2.9 || r.WindowS > 4 {
		t.Errorf("window = %.2f s, want about 3", r.WindowS)
	}
	if r.LoadGenerator.CPUSeconds <= 0 || r.LoadGenerator.RSSKB == 0 {
		t.Errorf("load generator stats %+v: want cpu time and rss", r.LoadGenerator)
	}
	if r.Server == nil || r.Server.Unreadable != 1 {
		t.Errorf("server stats %+v: want one unreadable pid", r.Server)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatalf("WriteText: %v", err)
	}
	for _, want := range []string{"connected      20\n", "stalled        0 ", "bitrate        p50 "} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
}

func TestPlayDetectsStalls(t *testing.T) {
	node := mediaservertest.Start(t, nil)
	// A publisher that sends one GOP and then nothing.
	c, err := rtmp.Dial(t.Context(), node.RTMPURL("live"), rtmp.ClientOptions{})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	if err := c.Publish(t.Context(), "quiet"); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	for _, p := range rtmptest.Stream(1, 25) {
		if err := c.WritePacket(p); err != nil {
			t.Fatalf("WritePacket: %v", err)
		}
	}
	waitPublishing(t, node, "live/quiet")

	r, err := Play(t.Context(), PlayConfig{
		URL:      node.RTMPURL("live/quiet"),
		Sessions: 3,
		Duration: 1500 * time.Millisecond,
		Stall:    500 * time.Millisecond,
		Logger:   testLogger(t),
	})
	if err != nil {
		t.Fatalf("Play: %v", err)
	}
	if r.Connected != 3 || r.Stalled != 3 || r.NeverReceived != 0 || r.WorstGapS < 1.4 {
		t.Errorf("connected %d, stalled %d, never received %d, worst gap %.2f s: want 3, 3, 0 (GOP cache), at least 1.4 s",
			r.Connected, r.Stalled, r.NeverReceived, r.WorstGapS)
	}
	if r.BitrateP50Kbps != 0 {
		t.Errorf("bitrate p50 = %.0f kbit/s in a silent window, want 0", r.BitrateP50Kbps)
	}
}

func TestPlayCountsFailures(t *testing.T) {
	node := mediaservertest.Start(t, nil)
	r, err := Play(t.Context(), PlayConfig{
		URL:      node.RTMPURL("live/nothing"),
		Sessions: 4,
		Duration: 100 * time.Millisecond,
		Stall:    time.Second,
	})
	if err != nil {
		t.Fatalf("Play: %v", err)
	}
	if r.Connected != 0 || r.Failed != 4 || len(r.Errors) != 1 || r.Errors[0].Count != 4 ||
		!strings.Contains(r.Errors[0].Error, rtmp.CodePlayStreamNotFound) {
		t.Errorf("connected %d, failed %d, errors %v: want 0, 4, one error %s ×4", r.Connected, r.Failed, r.Errors, rtmp.CodePlayStreamNotFound)
	}
}

func TestPlayRejectsBadConfig(t *testing.T) {
	good := PlayConfig{URL: "rtmp://127.0.0.1:1/live/x", Sessions: 1, Duration: time.Second, Stall: time.Second}
	tests := []struct {
		name   string
		mutate func(*PlayConfig)
		want   string
	}{
		{name: "url", mutate: func(c *PlayConfig) { c.URL = "rtmp://h/live" }, want: "app/stream"},
		{name: "sessions", mutate: func(c *PlayConfig) { c.Sessions = 0 }, want: "sessions"},
		{name: "duration", mutate: func(c *PlayConfig) { c.Duration = 0 }, want: "duration"},
		{name: "ramp", mutate: func(c *PlayConfig) { c.Ramp = -1 }, want: "ramp"},
		{name: "stall", mutate: func(c *PlayConfig) { c.Stall = 0 }, want: "stall"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.mutate(&cfg)
			if _, err := Play(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Play error = %v, want one naming %q", err, tc.want)
			}
		})
	}
}

func TestPlayInterrupted(t *testing.T) {
	node := mediaservertest.Start(t, nil)
	publishInBackground(t, node.RTMPURL("live/bench"), testClip(t, 1))
	waitPublishing(t, node, "live/bench")
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	start := time.Now()
	r, err := Play(ctx, PlayConfig{URL: node.RTMPURL("live/bench"), Sessions: 2, Duration: time.Minute, Stall: time.Second})
	if err != nil {
		t.Fatalf("Play: %v", err)
	}
	if !r.Interrupted || time.Since(start) > 10*time.Second || r.Dropped != 0 {
		t.Errorf("interrupted %v after %s with %d dropped: want true, about 1s, 0", r.Interrupted, time.Since(start), r.Dropped)
	}
}

func TestPublishLoopsWithMonotonicTimestamps(t *testing.T) {
	// No grace: the player sees the end as soon as the publisher leaves.
	node := mediaservertest.Start(t, func(c *config.Node) { c.Stream.PublisherGrace = time.Millisecond })
	clip := testClip(t, 1) // 1 s
	if clip.Length() != time.Second {
		t.Fatalf("clip length = %s, want 1s", clip.Length())
	}
	done := make(chan *PublishReport, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		r, err := PublishClip(t.Context(), PublishConfig{URL: node.RTMPURL("live/loop"), Loop: true, Duration: 2500 * time.Millisecond}, clip)
		if err != nil {
			t.Errorf("PublishClip: %v", err)
		}
		done <- r
	})
	waitPublishing(t, node, "live/loop")
	c, err := rtmp.Dial(t.Context(), node.RTMPURL("live"), rtmp.ClientOptions{})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	if err := c.Play(t.Context(), "loop"); err != nil {
		t.Fatalf("Play: %v", err)
	}
	last := map[flv.PacketType]uint32{}
	var seqHeaders int
	var maxTS uint32
	for {
		p, err := c.ReadPacket()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("ReadPacket: %v", err)
		}
		if p.SequenceHeader {
			seqHeaders++
		}
		if prev, ok := last[p.Type]; ok && p.Timestamp < prev {
			t.Errorf("%v timestamp went back from %d to %d", p.Type, prev, p.Timestamp)
		}
		last[p.Type] = p.Timestamp
		maxTS = max(maxTS, p.Timestamp)
	}
	r := <-done
	if r.Loops != 2 || r.Elapsed < 2400*time.Millisecond || r.Elapsed > 4*time.Second {
		t.Errorf("loops %d in %s, want 2 in about 2.5s", r.Loops, r.Elapsed)
	}
	if maxTS < 2300 || maxTS > 2600 {
		t.Errorf("last timestamp %d ms, want about 2500 (the timestamps continue across loops)", maxTS)
	}
	if seqHeaders != 2 {
		t.Errorf("%d sequence headers, want 2 (AVC and AAC, sent once)", seqHeaders)
	}
}

func TestReadClip(t *testing.T) {
	c := testClip(t, 2)
	if c.Length() != 2*time.Second {
		t.Errorf("Length = %s, want 2s (last timestamp 1960 ms + 40 ms frame interval)", c.Length())
	}
	if c.packets[0].Timestamp != 0 || !c.packets[0].SequenceHeader {
		t.Errorf("first packet %+v, want the sequence header at 0", c.packets[0])
	}
	if _, err := ReadClip(bytes.NewReader(flvFile(nil))); err == nil {
		t.Error("ReadClip of an empty file: no error")
	}
	if _, err := ReadClip(strings.NewReader("this is not an flv file")); !errors.Is(err, flv.ErrNotFLVFile) {
		t.Errorf("ReadClip of text = %v, want ErrNotFLVFile", err)
	}
}
