package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoal-live/shoal/internal/flv"
	"github.com/shoal-live/shoal/internal/rtmp"
)

// maxErrors is how many distinct errors a report lists.
const maxErrors = 5

// PlayConfig configures Play.
type PlayConfig struct {
	// URL is the stream to play: rtmp://host[:port]/app/stream.
	URL string
	// Sessions is the number of players.
	Sessions int
	// Ramp spreads the session starts evenly over this long.
	Ramp time.Duration
	// Duration is the measurement window. It starts once every session
	// has connected or failed to.
	Duration time.Duration
	// Stall is the longest silence after a session's first media packet
	// that does not count as a stall.
	Stall time.Duration
	// ConnectTimeout bounds the connect and play of each session (10s if
	// zero).
	ConnectTimeout time.Duration
	// ServerPIDs, if set, are processes (the server under test) whose CPU
	// time and memory are measured over the window, from /proc.
	ServerPIDs []int
	// Logger receives progress events; a discarding logger if nil.
	Logger *slog.Logger
}

// PlayReport is the result of Play. Bit rates are of audio and video
// payloads (FLV tag bodies) received during the window, per session.
type PlayReport struct {
	URL       string `json:"url"`
	Sessions  int    `json:"sessions"`
	Connected int    `json:"connected"`
	// Failed sessions never started playing.
	Failed int `json:"failed"`
	// Dropped sessions started playing and lost the stream before the end.
	Dropped int          `json:"dropped"`
	Errors  []ErrorCount `json:"errors,omitempty"`
	// Interrupted is set when the context ended the run early.
	Interrupted bool    `json:"interrupted,omitempty"`
	WindowS     float64 `json:"window_s"`
	StallS      float64 `json:"stall_s"`

	// Over connected sessions.
	BitrateP50Kbps  float64 `json:"bitrate_p50_kbps"`
	BitrateP5Kbps   float64 `json:"bitrate_p5_kbps"`
	BitrateMinKbps  float64 `json:"bitrate_min_kbps"`
	BitrateMeanKbps float64 `json:"bitrate_mean_kbps"`
	// Stalled sessions went longer than StallS without a media packet
	// after their first, or never received one (NeverReceived of them).
	Stalled       int     `json:"stalled"`
	NeverReceived int     `json:"never_received"`
	WorstGapS     float64 `json:"worst_gap_s"`
	// FirstPacket is the time from play start to the first media packet.
	FirstPacketP50Ms float64 `json:"first_packet_p50_ms"`
	FirstPacketP95Ms float64 `json:"first_packet_p95_ms"`
	TotalKbps        float64 `json:"total_kbps"`
	TotalBytes       uint64  `json:"total_bytes"`

	// LoadGenerator is this process over the window.
	LoadGenerator ProcStats `json:"load_generator"`
	// Server is ServerPIDs over the window, if any were given.
	Server *ProcStats `json:"server,omitempty"`
	// MachineCPUPercent is the busy CPU time of the whole machine over the
	// window (200 is two cores busy): what it holds beyond the server and
	// the load generator is other work that competed with them.
	MachineCPUPercent float64 `json:"machine_cpu_percent"`
	// CPUs is the number of CPUs this process may use.
	CPUs int `json:"cpus"`
}

// playSession is one player. The fields other than bytes belong to the
// session's goroutine until Play has waited for it.
type playSession struct {
	bytes atomic.Uint64 // media payload bytes received

	connected bool
	lost      bool // the stream ended or the connection failed while playing
	err       error
	started   time.Time // when play started
	gaps      gapTracker
}

// Play runs cfg.Sessions players of cfg.URL and reports what they
// received. It returns once every session has ended; an error only for a
// bad configuration. Cancelling ctx ends the run early with a report marked
// Interrupted.
func Play(ctx context.Context, cfg PlayConfig) (*PlayReport, error) {
	dialURL, name, err := splitStreamURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.Sessions <= 0:
		return nil, fmt.Errorf("sessions: %d, want at least 1", cfg.Sessions)
	case cfg.Duration <= 0:
		return nil, fmt.Errorf("duration: %s, want more than 0", cfg.Duration)
	case cfg.Ramp < 0:
		return nil, fmt.Errorf("ramp: %s, want 0 or more", cfg.Ramp)
	case cfg.Stall <= 0:
		return nil, fmt.Errorf("stall: %s, want more than 0", cfg.Stall)
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	sessCtx, stopSessions := context.WithCancel(ctx)
	defer stopSessions()
	sessions := make([]playSession, cfg.Sessions)
	var wg sync.WaitGroup
	defer wg.Wait()
	pending := atomic.Int64{} // sessions still connecting
	pending.Store(int64(cfg.Sessions))
	allTried := make(chan struct{})
	tried := func() {
		if pending.Add(-1) == 0 {
			close(allTried)
		}
	}

	logger.Info("starting sessions", "url", cfg.URL, "sessions", cfg.Sessions, "ramp", cfg.Ramp.String())
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for i := range sessions {
		if d := time.Until(start.Add(cfg.Ramp * time.Duration(i) / time.Duration(cfg.Sessions))); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			for j := i; j < len(sessions); j++ {
				sessions[j].err = fmt.Errorf("not started: %w", ctx.Err())
				tried()
			}
			break
		}
		s := &sessions[i]
		wg.Go(func() { s.run(sessCtx, dialURL, name, cfg.ConnectTimeout, tried) })
	}
	select {
	case <-allTried:
	case <-ctx.Done():
	}

	self := []int{os.Getpid()}
	selfBefore, serverBefore := sampleProcs(self), sampleProcs(cfg.ServerPIDs)
	machineBefore, machineErr := readMachineCPU()
	windowStart := time.Now()
	bytesBefore := make([]uint64, len(sessions))
	for i := range sessions {
		bytesBefore[i] = sessions[i].bytes.Load()
	}
	logger.Info("measuring", "connecting_took", windowStart.Sub(start).Round(time.Millisecond).String(),
		"window", cfg.Duration.String())
	timer.Reset(cfg.Duration)
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
	windowEnd := time.Now()
	bytesAfter := make([]uint64, len(sessions))
	for i := range sessions {
		bytesAfter[i] = sessions[i].bytes.Load()
	}
	selfAfter, serverAfter := sampleProcs(self), sampleProcs(cfg.ServerPIDs)
	machineAfter, err := readMachineCPU()
	machineErr = errors.Join(machineErr, err)
	stopSessions()
	wg.Wait()

	r := summarize(cfg, sessions, bytesBefore, bytesAfter, windowEnd.Sub(windowStart), windowEnd)
	r.Interrupted = ctx.Err() != nil
	r.LoadGenerator = procStats(self, selfBefore, selfAfter)
	r.CPUs = runtime.NumCPU()
	if machineErr != nil {
		logger.Warn("machine cpu time not measured", "error", machineErr.Error())
	} else {
		r.MachineCPUPercent = machinePercent(machineBefore, machineAfter)
	}
	if len(cfg.ServerPIDs) > 0 {
		st := procStats(cfg.ServerPIDs, serverBefore, serverAfter)
		r.Server = &st
	}
	return r, nil
}

// run connects, plays and counts media until ctx ends. It calls tried once
// the session is playing or has failed to start.
func (s *playSession) run(ctx context.Context, dialURL, name string, timeout time.Duration, tried func()) {
	c, err := s.connect(ctx, dialURL, name, timeout)
	tried()
	if err != nil {
		s.err = err
		return
	}
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()
	defer func() { _ = c.Close() }()
	for {
		p, err := c.ReadPacket()
		if err != nil {
			if ctx.Err() == nil {
				s.lost = true
				if errors.Is(err, io.EOF) {
					err = errors.New("stream ended")
				}
				s.err = fmt.Errorf("play: %w", err)
			}
			return
		}
		if p.Type == flv.PacketData {
			continue
		}
		s.gaps.packet(time.Now())
		s.bytes.Add(uint64(len(p.Payload)))
	}
}

// connect dials and starts playing within timeout.
func (s *playSession) connect(ctx context.Context, dialURL, name string, timeout time.Duration) (*rtmp.ClientConn, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := rtmp.Dial(ctx, dialURL, rtmp.ClientOptions{})
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if err := c.Play(ctx, name); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("play: %w", err)
	}
	s.connected = true
	s.started = time.Now()
	return c, nil
}

// summarize builds the report from the ended sessions and their byte
// counts at the start and end of a window of length window ending at end.
func summarize(cfg PlayConfig, sessions []playSession, before, after []uint64, window time.Duration, end time.Time) *PlayReport {
	r := &PlayReport{
		URL:      cfg.URL,
		Sessions: len(sessions),
		WindowS:  window.Seconds(),
		StallS:   cfg.Stall.Seconds(),
	}
	var tally errorTally
	bitrates := make([]float64, 0, len(sessions))
	var firsts []float64
	var sum float64
	for i := range sessions {
		s := &sessions[i]
		if s.err != nil {
			tally.add(s.err)
		}
		if !s.connected {
			r.Failed++
			continue
		}
		r.Connected++
		if s.lost {
			r.Dropped++
		}
		n := after[i] - before[i]
		r.TotalBytes += n
		kbps := 0.0
		if window > 0 {
			kbps = float64(n) * 8 / window.Seconds() / 1000
		}
		bitrates = append(bitrates, kbps)
		sum += kbps
		if s.gaps.stalled(end, cfg.Stall) {
			r.Stalled++
		}
		gap, ok := s.gaps.worstGap(end)
		if !ok {
			r.NeverReceived++
			continue
		}
		r.WorstGapS = max(r.WorstGapS, gap.Seconds())
		firsts = append(firsts, float64(s.gaps.first.Sub(s.started))/float64(time.Millisecond))
	}
	r.Errors = tally.top(maxErrors)
	if len(bitrates) > 0 {
		r.BitrateMeanKbps = sum / float64(len(bitrates))
		r.TotalKbps = sum
		r.BitrateP50Kbps = percentile(bitrates, 50)
		r.BitrateP5Kbps = percentile(bitrates, 5)
		r.BitrateMinKbps = slices.Min(bitrates)
	}
	r.FirstPacketP50Ms = percentile(firsts, 50)
	r.FirstPacketP95Ms = percentile(firsts, 95)
	return r
}
