package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/shoal-live/shoal/internal/config"
	"github.com/shoal-live/shoal/internal/logging"
	"github.com/shoal-live/shoal/internal/smclient"
	"github.com/shoal-live/shoal/internal/streammanager"
)

// managerFlags are the flags shoal manager and shoal up share; each
// overrides its configuration key when given.
type managerFlags struct {
	path       *string
	httpAddr   *string
	publicURL  *string
	storeDSN   *string
	natsURL    *string
	natsListen *string
	logLevel   *string
}

func addManagerFlags(fs *flag.FlagSet) managerFlags {
	return managerFlags{
		path:       fs.String("config", "", "configuration file (YAML); default: shoal.yml if present"),
		httpAddr:   fs.String("http-addr", "", "API listen address HOST:PORT (port 0 picks a free port); http.addr"),
		publicURL:  fs.String("public-url", "", "URL nodes reach the manager at; http.public_url"),
		storeDSN:   fs.String("store", "", "SQLite file or postgres:// URL; store.dsn"),
		natsURL:    fs.String("nats-url", "", "external NATS server or cluster for the nodes (empty: embedded); nats.url"),
		natsListen: fs.String("nats-listen", "", "embedded NATS listen address HOST:PORT; nats.embedded.listen"),
		logLevel:   fs.String("log-level", "", "debug, info, warn or error; log.level"),
	}
}

// load reads the configuration and applies the flags that were given.
func (f managerFlags) load(fs *flag.FlagSet) (config.Manager, error) {
	file, required := *f.path, true
	if file == "" {
		file, required = "shoal.yml", false
	}
	cfg, err := config.LoadManager(file, required)
	if err != nil {
		return config.Manager{}, err
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	apply := func(name string, dst *string, v string) {
		if set[name] {
			*dst = v
		}
	}
	apply("http-addr", &cfg.HTTP.Addr, *f.httpAddr)
	apply("public-url", &cfg.HTTP.PublicURL, *f.publicURL)
	apply("store", &cfg.Store.DSN, *f.storeDSN)
	apply("nats-url", &cfg.NATS.URL, *f.natsURL)
	apply("nats-listen", &cfg.NATS.Embedded.Listen, *f.natsListen)
	apply("log-level", &cfg.Log.Level, *f.logLevel)
	return cfg, nil
}

// runManager runs "shoal manager": the stream manager until SIGINT or
// SIGTERM.
func runManager(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("shoal manager", flag.ContinueOnError)
	mf := addManagerFlags(fs)
	provider := fs.String("provider", "", "cloud bridge: local or none; provider.type")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("manager: unexpected arguments %q", fs.Args())
	}
	cfg, err := mf.load(fs)
	if err != nil {
		return err
	}
	if *provider != "" {
		cfg.Provider.Type = *provider
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.REST.AdminToken == "" {
		return errors.New("manager: rest.admin_token is required: set it in shoal.yml or SHOAL_REST_ADMIN_TOKEN")
	}
	logger, err := logging.New(os.Stderr, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return err
	}
	m, err := streammanager.New(cfg, logger)
	if err != nil {
		return err
	}
	return m.Run(ctx)
}

// runUp runs "shoal up": a whole cluster on this machine until SIGINT or
// SIGTERM, then stops every process it started.
func runUp(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("shoal up", flag.ContinueOnError)
	mf := addManagerFlags(fs)
	dataDir := fs.String("data-dir", "", "directory for the database, NATS and the nodes (default: the paths of the configuration, under ./data)")
	wait := fs.Duration("wait", 2*time.Minute, "how long to wait for the origin and the edge before giving up")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("up: unexpected arguments %q", fs.Args())
	}
	cfg, err := mf.load(fs)
	if err != nil {
		return err
	}
	cfg.Provider.Type = "local"
	if *dataDir != "" {
		cfg.Store.DSN = filepath.Join(*dataDir, "manager", "shoal.db")
		cfg.NATS.Embedded.StoreDir = filepath.Join(*dataDir, "manager", "nats")
		cfg.Provider.Local.WorkDir = filepath.Join(*dataDir, "manager", "nodes")
	}
	if cfg.Seed.Group == "" {
		cfg.Seed.Group = "default"
	}
	if cfg.REST.AdminToken == "" {
		cfg.REST.AdminToken = streammanager.RandomToken()
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	logger, err := logging.New(os.Stderr, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return err
	}
	m, err := streammanager.New(cfg, logger)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	select {
	case <-m.Ready():
	case err := <-done:
		return err
	}
	c := smclient.New(m.URL(), cfg.REST.AdminToken, nil)
	origin, edge, err := waitForCluster(ctx, c, cfg.Seed.Group, *wait, logger)
	if err != nil {
		cancel()
		rerr := <-done
		if errors.Is(err, context.Canceled) {
			return rerr // Ctrl-C while starting
		}
		return errors.Join(err, rerr)
	}
	logger.Info("cluster up", "api", m.URL()+smclient.BasePath, "origin_rtmp", origin.RTMPAddr(), "origin_http", origin.HTTPAddr(),
		"edge_rtmp", edge.RTMPAddr(), "edge_http", edge.HTTPAddr(), "group", cfg.Seed.Group)
	printUp(os.Stdout, m.URL(), cfg.REST.AdminToken, origin, edge)
	return <-done
}

// waitForCluster waits until the group has an in-service origin and an
// in-service edge.
func waitForCluster(ctx context.Context, c *smclient.Client, group string, wait time.Duration, logger *slog.Logger) (origin, edge smclient.Node, err error) {
	deadline := time.Now().Add(wait)
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		nodes, err := c.Nodes(ctx, group)
		if err == nil {
			var haveOrigin, haveEdge bool
			for _, n := range nodes {
				if n.State != "inservice" || n.Draining {
					continue
				}
				switch n.Role {
				case "origin":
					origin, haveOrigin = n, true
				case "edge":
					edge, haveEdge = n, true
				}
			}
			if haveOrigin && haveEdge {
				return origin, edge, nil
			}
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("no in-service origin and edge in group %s", group)
			}
			return origin, edge, fmt.Errorf("up: cluster not ready after %s: %w (node logs: node.log under provider.local.work_dir)", wait, err)
		}
		select {
		case <-ctx.Done():
			return origin, edge, ctx.Err()
		case <-t.C:
		}
		logger.Debug("waiting for the origin and the edge", "group", group)
	}
}

// printUp prints where to publish, where to play and where to watch the
// shared-object demo.
func printUp(w io.Writer, base, token string, origin, edge smclient.Node) {
	api := base + smclient.BasePath
	const scope, stream = "live", "stream1"
	originRTMP := "rtmp://" + origin.RTMPAddr() + "/" + scope + "/" + stream
	edgeRTMP := "rtmp://" + edge.RTMPAddr() + "/" + scope + "/" + stream
	lines := []string{
		"",
		"Shoal is up: a stream manager, an origin and an edge on this machine.",
		"",
		"  Web console         " + base + "/console/  (sign in with the admin token)",
		"  Stream manager API  " + api,
		"  Admin token         " + token,
		"  Admin commands      export SHOAL_URL=" + base + " SHOAL_TOKEN=" + token,
		"                      shoal groups; shoal nodes default; shoal events",
		"",
		"Publish (origin " + origin.Identifier + "):",
		"  ask the manager     curl '" + api + "/event/" + scope + "/" + stream + "?action=broadcast'",
		"  publish to          " + originRTMP,
		"  for example         ffmpeg -re -f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine=frequency=440 \\",
		"                        -c:v libx264 -preset veryfast -tune zerolatency -g 60 -c:a aac -f flv " + originRTMP,
		"",
		"Play (edge " + edge.Identifier + ", which pulls the stream from the origin):",
		"  ask the manager     curl '" + api + "/event/" + scope + "/" + stream + "?action=subscribe'",
		"  play from           " + edgeRTMP,
		"  for example         ffplay " + edgeRTMP,
		"",
		"BallControl (one shared ball, two nodes: drag it on one page, watch it move on the other):",
		"  on the edge         http://" + edge.HTTPAddr() + "/demo/ballcontrol",
		"  on the origin       http://" + origin.HTTPAddr() + "/demo/ballcontrol",
		"",
		"Press Ctrl-C to stop everything.",
		"",
	}
	_, _ = io.WriteString(w, strings.Join(lines, "\n")) // stdout closed: nothing to tell
}
