package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/shoal-live/shoal/internal/flv"
	"github.com/shoal-live/shoal/internal/rtmp"
)

// defaultFrameInterval is the gap assumed after a clip's last packet when
// the clip does not show its frame interval (one video packet or none).
const defaultFrameInterval = 33 * time.Millisecond

// PublishConfig configures Publish.
type PublishConfig struct {
	// URL is where to publish: rtmp://host[:port]/app/stream.
	URL string
	// File is the FLV file to publish.
	File string
	// Loop replays the file until Duration or ctx ends, with timestamps
	// continuing across loops.
	Loop bool
	// Duration, if positive, stops publishing after this long.
	Duration time.Duration
	// Logger receives progress events; a discarding logger if nil.
	Logger *slog.Logger
}

// PublishReport is what Publish sent.
type PublishReport struct {
	Packets uint64        `json:"packets"`
	Bytes   uint64        `json:"bytes"`
	Loops   int           `json:"loops"`
	Elapsed time.Duration `json:"elapsed_ns"`
	// MaxLate is the most a packet went out after its time.
	MaxLate time.Duration `json:"max_late_ns"`
}

// Clip is an FLV file loaded for publishing.
type Clip struct {
	packets []*flv.Packet // timestamps start at 0
	length  time.Duration // from the first packet to where a loop restarts
}

// LoadClip reads an FLV file. Its timestamps are shifted to start at 0.
func LoadClip(path string) (*Clip, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load clip: %w", err)
	}
	defer func() { _ = f.Close() }()
	c, err := ReadClip(bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("load clip %s: %w", path, err)
	}
	return c, nil
}

// ReadClip reads an FLV file from r. Its timestamps are shifted to start
// at 0.
func ReadClip(r io.Reader) (*Clip, error) {
	fr := flv.NewFileReader(r)
	var pkts []*flv.Packet
	for {
		p, err := fr.ReadPacket()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		pkts = append(pkts, p)
	}
	if len(pkts) == 0 {
		return nil, errors.New("no audio, video or data tags")
	}
	first, last := pkts[0].Timestamp, pkts[0].Timestamp
	for _, p := range pkts {
		first, last = min(first, p.Timestamp), max(last, p.Timestamp)
	}
	// The frame interval is the smallest gap between video timestamps.
	var interval time.Duration
	var prev *flv.Packet
	for _, p := range pkts {
		if p.Type != flv.PacketVideo || p.SequenceHeader {
			continue
		}
		if prev != nil && p.Timestamp > prev.Timestamp {
			d := time.Duration(p.Timestamp-prev.Timestamp) * time.Millisecond
			if interval == 0 || d < interval {
				interval = d
			}
		}
		prev = p
	}
	if interval == 0 {
		interval = defaultFrameInterval
	}
	for i, p := range pkts {
		pkts[i] = flv.NewPacket(p.Type, p.Timestamp-first, p.Payload)
	}
	return &Clip{packets: pkts, length: time.Duration(last-first)*time.Millisecond + interval}, nil
}

// Length is how long one pass of the clip lasts.
func (c *Clip) Length() time.Duration { return c.length }

// Publish publishes cfg.File to cfg.URL in real time, pacing the packets by
// their timestamps. It returns when the file (or Duration) ends, or with
// ctx.Err() when ctx is done.
func Publish(ctx context.Context, cfg PublishConfig) (*PublishReport, error) {
	clip, err := LoadClip(cfg.File)
	if err != nil {
		return nil, err
	}
	return PublishClip(ctx, cfg, clip)
}

// PublishClip is Publish with the clip already loaded; cfg.File is unused.
func PublishClip(ctx context.Context, cfg PublishConfig, clip *Clip) (*PublishReport, error) {
	dialURL, name, err := splitStreamURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// runCtx also ends at Duration, which is success; ctx ending is not.
	runCtx := ctx
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	c, err := rtmp.Dial(runCtx, dialURL, rtmp.ClientOptions{})
	if err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	stop := context.AfterFunc(runCtx, func() { _ = c.Close() })
	defer stop()
	defer func() { _ = c.Close() }()
	if err := c.Publish(runCtx, name); err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	logger.Info("publishing", "url", cfg.URL, "clip_length", clip.length.String(), "loop", cfg.Loop)

	r := &PublishReport{}
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for loop := 0; loop == 0 || cfg.Loop; loop++ {
		offset := clip.length * time.Duration(loop)
		for _, p := range clip.packets {
			if loop > 0 && (p.SequenceHeader || p.Type == flv.PacketData) {
				continue // sent once, at the start
			}
			at := offset + time.Duration(p.Timestamp)*time.Millisecond
			if d := time.Until(start.Add(at)); d > 0 {
				timer.Reset(d)
				select {
				case <-timer.C:
				case <-runCtx.Done():
					r.Elapsed = time.Since(start)
					return r, ctx.Err()
				}
			} else {
				r.MaxLate = max(r.MaxLate, -d)
			}
			out := p
			if loop > 0 {
				out = flv.NewPacket(p.Type, uint32(at/time.Millisecond), p.Payload)
			}
			if err := c.WritePacket(out); err != nil {
				if runCtx.Err() != nil {
					r.Elapsed = time.Since(start)
					return r, ctx.Err()
				}
				return r, fmt.Errorf("publish: %w", err)
			}
			r.Packets++
			r.Bytes += uint64(len(p.Payload))
		}
		r.Loops = loop + 1
	}
	r.Elapsed = time.Since(start)
	return r, nil
}
