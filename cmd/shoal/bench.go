package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-live/shoal/internal/bench"
	"github.com/shoal-live/shoal/internal/logging"
)

const benchUsage = `usage: shoal bench <command> [flags]

commands:
  play      open N RTMP subscribers and report bitrate and stalls
  publish   publish an FLV file over RTMP in real time, optionally looping
  mkclip    make the test clip with ffmpeg (720p30 H.264 + AAC, FLV)
  so        shared-object latency (-rate) and throughput (-max), same node or across nodes

run "shoal bench <command> -h" for the flags of a command
`

// runBench dispatches "shoal bench ...".
func runBench(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, benchUsage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "play":
		return benchPlay(ctx, args[1:])
	case "publish":
		return benchPublish(ctx, args[1:])
	case "mkclip":
		return benchMakeClip(ctx, args[1:])
	case "so":
		return benchSO(ctx, args[1:])
	case "help", "-h", "--help":
		fmt.Print(benchUsage)
		return nil
	default:
		fmt.Fprint(os.Stderr, benchUsage)
		return fmt.Errorf("unknown bench command %q", args[0])
	}
}

func benchPlay(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("shoal bench play", flag.ContinueOnError)
	url := fs.String("url", "", "stream to play: rtmp://host:port/app/stream")
	n := fs.Int("n", 100, "number of subscribers")
	duration := fs.Duration("duration", 30*time.Second, "measurement window, after every subscriber has connected or failed")
	ramp := fs.Duration("ramp", 2*time.Second, "spread the subscriber starts over this long")
	stall := fs.Duration("stall", 2*time.Second, "a silence longer than this after the first media packet is a stall")
	connectTimeout := fs.Duration("connect-timeout", 10*time.Second, "connect and play timeout of each subscriber")
	pids := fs.String("server-pids", "", "comma-separated pids of the server under test, whose CPU and memory are measured over the window")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	logLevel := fs.String("log-level", "info", "progress log level on stderr: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	serverPIDs, err := parsePIDs(*pids)
	if err != nil {
		return err
	}
	logger, err := logging.New(os.Stderr, *logLevel, "text")
	if err != nil {
		return err
	}
	r, err := bench.Play(ctx, bench.PlayConfig{
		URL: *url, Sessions: *n, Duration: *duration, Ramp: *ramp, Stall: *stall,
		ConnectTimeout: *connectTimeout, ServerPIDs: serverPIDs, Logger: logger,
	})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return r.WriteText(os.Stdout)
}

// parsePIDs parses "12,34".
func parsePIDs(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		pid, err := strconv.Atoi(f)
		if err != nil || pid <= 0 {
			return nil, fmt.Errorf("server-pids: %q is not a pid", f)
		}
		out = append(out, pid)
	}
	return out, nil
}

func benchPublish(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("shoal bench publish", flag.ContinueOnError)
	url := fs.String("url", "", "where to publish: rtmp://host:port/app/stream")
	file := fs.String("file", "", "FLV file to publish (shoal bench mkclip makes one)")
	loop := fs.Bool("loop", false, "replay the file until stopped, timestamps continuing")
	duration := fs.Duration("duration", 0, "stop after this long (0: at the end of the file, or never with -loop)")
	logLevel := fs.String("log-level", "info", "progress log level on stderr: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *file == "" {
		return errors.New("publish: -file is required")
	}
	logger, err := logging.New(os.Stderr, *logLevel, "text")
	if err != nil {
		return err
	}
	r, err := bench.Publish(ctx, bench.PublishConfig{URL: *url, File: *file, Loop: *loop, Duration: *duration, Logger: logger})
	if r != nil {
		logger.Info("published", "packets", r.Packets, "bytes", r.Bytes, "loops", r.Loops,
			"elapsed", r.Elapsed.Round(time.Millisecond).String(), "max_late", r.MaxLate.Round(time.Millisecond).String())
	}
	if errors.Is(err, context.Canceled) {
		return nil // stopped by a signal: the normal end of a looping publisher
	}
	return err
}

func benchMakeClip(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("shoal bench mkclip", flag.ContinueOnError)
	out := fs.String("out", "clip.flv", "FLV file to write")
	bitrate := fs.String("bitrate", "2500k", "video bit rate (audio adds 128k)")
	duration := fs.Duration("duration", 20*time.Second, "clip length")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rate, err := bench.ParseBitrate(*bitrate)
	if err != nil {
		return err
	}
	return bench.MakeClip(ctx, bench.ClipConfig{Out: *out, VideoBitrate: rate, Duration: *duration})
}
