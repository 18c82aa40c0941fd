package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/shoal-live/shoal/internal/cluster"
	"github.com/shoal-live/shoal/internal/logging"
)

// runNATS runs "shoal nats": a NATS server with JetStream, alone or as one
// server of a NATS cluster, until SIGINT or SIGTERM. Nodes join it with
// --nats-url (all servers of a cluster, comma separated) and
// cluster.replicas 3 on a three-server cluster.
func runNATS(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("shoal nats", flag.ContinueOnError)
	listen := fs.String("listen", ":4222", "client listen address HOST:PORT (port 0 picks a free port)")
	storeDir := fs.String("store-dir", "data/nats", "JetStream storage directory")
	name := fs.String("name", "", "server name, unique in the NATS cluster (required with -cluster-listen)")
	clusterName := fs.String("cluster-name", "shoal", "NATS cluster name, the same on every server of the cluster")
	clusterListen := fs.String("cluster-listen", "", "route listen address HOST:PORT for the other servers (port 0 picks a free port); empty: no cluster")
	routes := fs.String("routes", "", "comma-separated route URLs of other servers of the cluster (nats-route://host:port)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("nats: unexpected arguments %q", fs.Args())
	}
	logger, err := logging.New(os.Stderr, *logLevel, "text")
	if err != nil {
		return err
	}
	cfg := cluster.EmbeddedConfig{
		Listen:     *listen,
		StoreDir:   *storeDir,
		ServerName: *name,
	}
	if *clusterListen != "" {
		cfg.ClusterName = *clusterName
		cfg.ClusterListen = *clusterListen
	}
	for r := range strings.SplitSeq(*routes, ",") {
		if r = strings.TrimSpace(r); r != "" {
			cfg.Routes = append(cfg.Routes, r)
		}
	}
	srv, err := cluster.StartServer(cfg, logger)
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	clusterURL := ""
	if a := srv.ClusterAddr(); a != nil {
		clusterURL = "nats-route://" + a.String()
	}
	logger.Info("nats listening", "server_name", srv.Name(), "client_url", srv.ClientURL(), "cluster_url", clusterURL)
	<-ctx.Done()
	srv.Shutdown()
	srv.WaitForShutdown()
	logger.Info("nats stopped", "server_name", srv.Name())
	return nil
}
