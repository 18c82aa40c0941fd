package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// EmbeddedConfig configures a NATS server with JetStream started inside this
// process.
type EmbeddedConfig struct {
	// Listen is the client listen address "host:port". Port 0 picks a free
	// port. Empty means no client listener: only in-process connections
	// (not allowed with ClusterListen).
	Listen string
	// StoreDir is the JetStream storage directory (required).
	StoreDir string
	// ServerName names the server; required when Routes are set.
	ServerName string
	// ClusterName names the NATS cluster formed with Routes.
	ClusterName string
	// ClusterListen is the route listen address "host:port" (port 0 picks a
	// free port). Empty means no clustering.
	ClusterListen string
	// Routes are the route URLs (nats-route://host:port) of the other
	// servers of the NATS cluster.
	Routes []string
	// MaxMemory and MaxStore limit JetStream memory and file storage in
	// bytes; 0 lets the server choose.
	MaxMemory int64
	MaxStore  int64
	// MaxPayload is the largest message the server accepts; 0 means the
	// NATS default (1 MiB).
	MaxPayload int32
	// User and Password, or Token, are required from clients when set.
	User, Password string
	Token          string
	// ReadyTimeout bounds how long StartServer waits for the server to
	// accept connections; 0 means 10 s.
	ReadyTimeout time.Duration
}

// ErrServerNotReady is returned when an embedded server does not become ready
// in time.
var ErrServerNotReady = errors.New("nats server not ready")

// enabled reports whether any embedded setting is present.
func (e EmbeddedConfig) enabled() bool {
	return e.Listen != "" || e.StoreDir != "" || e.ClusterListen != "" || len(e.Routes) > 0
}

func (e EmbeddedConfig) validate() error {
	if e.StoreDir == "" {
		return errors.New("embedded.store_dir: required")
	}
	if e.Listen != "" {
		if _, _, err := splitHostPort(e.Listen); err != nil {
			return fmt.Errorf("embedded.listen: %w", err)
		}
	}
	if e.ClusterListen != "" {
		if _, _, err := splitHostPort(e.ClusterListen); err != nil {
			return fmt.Errorf("embedded.cluster_listen: %w", err)
		}
		if e.Listen == "" {
			// nats-server starts routing only once its client listener runs.
			return errors.New("embedded.listen: required with cluster_listen")
		}
		if e.ServerName == "" || e.ClusterName == "" {
			return errors.New("embedded.server_name and embedded.cluster_name: required with cluster_listen")
		}
	}
	if len(e.Routes) > 0 && e.ClusterListen == "" {
		return errors.New("embedded.routes: needs cluster_listen")
	}
	if e.MaxPayload < 0 || e.MaxMemory < 0 || e.MaxStore < 0 {
		return errors.New("embedded limits: must not be negative")
	}
	if e.Token != "" && e.User != "" {
		return errors.New("embedded.token and embedded.user: set one, not both")
	}
	return nil
}

// splitHostPort parses "host:port"; port 0 becomes server.RANDOM_PORT
// because the NATS server reads 0 as "default port".
func splitHostPort(addr string) (string, int, error) {
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("parse address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("parse address %q: bad port", addr)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return host, port, nil
}

// StartServer starts an embedded NATS server with JetStream and waits until
// it accepts connections. The caller stops it with Shutdown and
// WaitForShutdown; Cluster does so when its Run returns.
func StartServer(cfg EmbeddedConfig, logger *slog.Logger) (*server.Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("start nats server: %w", err)
	}
	opts := &server.Options{
		ServerName:         cfg.ServerName,
		JetStream:          true,
		StoreDir:           cfg.StoreDir,
		JetStreamMaxMemory: cfg.MaxMemory,
		JetStreamMaxStore:  cfg.MaxStore,
		MaxPayload:         cfg.MaxPayload,
		NoSigs:             true,
		Username:           cfg.User,
		Password:           cfg.Password,
		Authorization:      cfg.Token,
	}
	if cfg.MaxMemory == 0 {
		opts.JetStreamMaxMemory = -1
	}
	if cfg.MaxStore == 0 {
		opts.JetStreamMaxStore = -1
	}
	if cfg.Listen == "" {
		opts.DontListen = true
	} else {
		host, port, _ := splitHostPort(cfg.Listen)
		opts.Host, opts.Port = host, port
	}
	if cfg.ClusterListen != "" {
		host, port, _ := splitHostPort(cfg.ClusterListen)
		opts.Cluster.Name = cfg.ClusterName
		opts.Cluster.Host, opts.Cluster.Port = host, port
		if len(cfg.Routes) > 0 {
			opts.Routes = server.RoutesFromStr(strings.Join(cfg.Routes, ","))
		}
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("start nats server: %w", err)
	}
	srv.SetLoggerV2(serverLogger{l: logger}, false, false, false)
	srv.Start()
	timeout := cfg.ReadyTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	if !srv.ReadyForConnections(timeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("start nats server %q after %v: %w", cfg.ServerName, timeout, ErrServerNotReady)
	}
	logger.Info("nats server started", "server_name", srv.Name(), "client_url", clientURL(srv), "store_dir", cfg.StoreDir)
	return srv, nil
}

// clientURL returns the server's client URL, or "" when it does not listen.
func clientURL(srv *server.Server) string {
	if srv == nil || srv.Addr() == nil {
		return ""
	}
	return srv.ClientURL()
}

// serverLogger adapts slog to the NATS server's Logger. Notices are Debug:
// the server prints many of them at startup and they are rarely useful.
type serverLogger struct{ l *slog.Logger }

func (s serverLogger) log(level slog.Level, format string, v []any) {
	ctx := context.Background()
	if !s.l.Enabled(ctx, level) {
		return
	}
	s.l.Log(ctx, level, "nats server", "detail", fmt.Sprintf(format, v...))
}

func (s serverLogger) Noticef(format string, v ...any) { s.log(slog.LevelDebug, format, v) }
func (s serverLogger) Warnf(format string, v ...any)   { s.log(slog.LevelWarn, format, v) }
func (s serverLogger) Fatalf(format string, v ...any)  { s.log(slog.LevelError, format, v) }
func (s serverLogger) Errorf(format string, v ...any)  { s.log(slog.LevelError, format, v) }
func (s serverLogger) Debugf(format string, v ...any)  { s.log(slog.LevelDebug-4, format, v) }
func (s serverLogger) Tracef(format string, v ...any)  { s.log(slog.LevelDebug-8, format, v) }
