package main

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"time"

	"github.com/shoal-live/shoal/internal/bench/sobench"
	"github.com/shoal-live/shoal/internal/logging"
)

// benchSO runs "shoal bench so": shared-object latency and throughput.
func benchSO(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("shoal bench so", flag.ContinueOnError)
	writer := fs.String("writer", "", "where writers connect: rtmp://host:port/app")
	reader := fs.String("reader", "", "where readers connect: rtmp://host:port/app (default: -writer)")
	readers := fs.Int("readers", 1, "reading connections; each uses every object")
	objects := fs.Int("objects", 1, "shared objects, each with its own writing connection")
	rate := fs.Float64("rate", 1000, "latency mode: changes per second over all objects")
	maxMode := fs.Bool("max", false, "throughput mode: set as fast as the server answers, -inflight at most per writer")
	duration := fs.Duration("duration", 10*time.Second, "measurement window")
	inFlight := fs.Int("inflight", 256, "unanswered changes allowed per writer")
	encoding := fs.Float64("encoding", 3, "object encoding of the connections: 0 (AMF0) or 3 (AMF3)")
	persistent := fs.Bool("persistent", false, "use persistent objects instead of transient ones")
	name := fs.String("name", "", "object name prefix (default: a fresh sobench-… name)")
	settle := fs.Duration("settle", 10*time.Second, "longest wait after the window for the last answers and deliveries")
	connectTimeout := fs.Duration("connect-timeout", 10*time.Second, "dial and use timeout of each connection")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	logLevel := fs.String("log-level", "info", "progress log level on stderr: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger, err := logging.New(os.Stderr, *logLevel, "text")
	if err != nil {
		return err
	}
	r, err := sobench.Run(ctx, sobench.Config{
		WriterURL: *writer, ReaderURL: *reader, Readers: *readers, Objects: *objects,
		Rate: *rate, Max: *maxMode, Duration: *duration, InFlight: *inFlight, Encoding: *encoding,
		Persistent: *persistent, Name: *name, Settle: *settle, ConnectTimeout: *connectTimeout, Logger: logger,
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
