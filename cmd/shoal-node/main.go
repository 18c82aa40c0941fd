// Command shoal-node runs one media node of a Shoal cluster: RTMP publish
// and play, shared objects over RTMP and WebSocket, and origin-to-edge relay.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/shoal-live/shoal/internal/config"
	"github.com/shoal-live/shoal/internal/logging"
	"github.com/shoal-live/shoal/internal/mediaserver"
	"github.com/shoal-live/shoal/internal/version"
)

func main() { os.Exit(realMain()) }

// realMain runs the command and returns the exit code, so that deferred
// calls run before main exits.
func realMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, "shoal-node:", err)
		return 1
	}
	return 0
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("shoal-node", flag.ContinueOnError)
	path := fs.String("config", "", "configuration file (YAML); default: shoal-node.yml if present")
	rtmpAddr := fs.String("rtmp-addr", "", "RTMP listen address HOST:PORT (port 0 picks a free port)")
	httpAddr := fs.String("http-addr", "", "HTTP listen address HOST:PORT (port 0 picks a free port)")
	role := fs.String("role", "", "node role: origin, edge or allinone")
	nodeID := fs.String("node-id", "", "node identifier in the cluster")
	natsURL := fs.String("nats-url", "", "NATS server or cluster URL to join (empty: embedded NATS)")
	managerURL := fs.String("manager-url", "", "stream manager URL to register with")
	dataDir := fs.String("data-dir", "", "directory for persistent state")
	logLevel := fs.String("log-level", "", "debug, info, warn or error")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *showVersion {
		fmt.Println("shoal-node", version.String())
		return nil
	}
	file, required := *path, true
	if file == "" {
		file, required = "shoal-node.yml", false
	}
	cfg, err := config.LoadNode(file, required)
	if err != nil {
		return err
	}
	set := map[string]*string{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = nil })
	apply := func(name string, dst *string, v string) {
		if _, ok := set[name]; ok {
			*dst = v
		}
	}
	apply("rtmp-addr", &cfg.RTMP.Addr, *rtmpAddr)
	apply("http-addr", &cfg.HTTP.Addr, *httpAddr)
	apply("role", &cfg.Node.Role, *role)
	apply("node-id", &cfg.Node.ID, *nodeID)
	apply("nats-url", &cfg.Cluster.NATSURL, *natsURL)
	apply("manager-url", &cfg.Manager.URL, *managerURL)
	apply("data-dir", &cfg.Node.DataDir, *dataDir)
	apply("log-level", &cfg.Log.Level, *logLevel)
	if err := cfg.Validate(); err != nil {
		return err
	}
	logger, err := logging.New(os.Stderr, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return err
	}
	srv, err := mediaserver.New(cfg, logger)
	if err != nil {
		return err
	}
	return srv.Run(ctx)
}
