// Package streammanager wires the stream manager, Shoal's control plane:
// the SQL store, the embedded NATS server the media nodes share, the cloud
// bridge (the provider switch), the REST API with its node selector and
// node monitor, the autoscaler and the reconciler that keeps the store in
// step with the provider's instances.
//
// A node the manager launches goes through these states (store states;
// who moves it in brackets):
//
//	Launch ─▶ PENDING ──instance up [reconciler]──▶ RUNNING ──registers [API]──▶ INSERVICE
//	            │   └──────────────registers before the provider says so [API]──────┘ │
//	            │                                                                       │
//	            └─ launch fails ─┐      process died [reconciler], silent [monitor] ─▶ FAULT
//	                             ▼                                                      │
//	Terminate [scaler, API] ─▶ TERMINATING ──instance deleted──▶ removed ◀──────────────┘
//
// The autoscaler decides; this package acts (actuator.go), reads the
// cluster for it (view.go) and records its events (events.go).
package streammanager

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"golang.org/x/sync/errgroup"

	"github.com/shoal-live/shoal/internal/agentapi"
	"github.com/shoal-live/shoal/internal/api"
	"github.com/shoal-live/shoal/internal/cluster"
	"github.com/shoal-live/shoal/internal/config"
	"github.com/shoal-live/shoal/internal/console"
	"github.com/shoal-live/shoal/internal/provider"
	"github.com/shoal-live/shoal/internal/provider/local"
	"github.com/shoal-live/shoal/internal/scaler"
	"github.com/shoal-live/shoal/internal/store"
)

// cloud is a provider the manager runs: the provider contract, plus Run,
// which blocks until ctx ends and then stops the instances the provider
// owns when they live only as long as the manager (local processes).
type cloud interface {
	provider.Provider
	Run(ctx context.Context) error
}

var _ cloud = (*local.Provider)(nil)

// newProvider is the provider switch (R5): one case per cloud bridge. It
// returns nil for provider type none.
func newProvider(cfg config.Manager, logger *slog.Logger) (cloud, error) {
	switch cfg.Provider.Type {
	case "local":
		p, err := local.New(local.Config{
			Binary:      cfg.Provider.Local.Binary,
			WorkDir:     cfg.Provider.Local.WorkDir,
			StopTimeout: cfg.Provider.Local.StopTimeout,
		}, logger)
		if err != nil {
			return nil, err
		}
		return p, nil
	case "none":
		return nil, nil
	default:
		return nil, fmt.Errorf("provider.type: unknown provider %q", cfg.Provider.Type)
	}
}

// Manager is the stream manager.
type Manager struct {
	cfg    config.Manager
	logger *slog.Logger
	prov   cloud // nil with provider type none
	secret string
	tasks  *tasks

	refusals refusals

	// Set by Run before Ready is closed; read-only afterwards.
	st       *store.Store
	sel      *api.Selector
	httpAddr *net.TCPAddr
	url      string
	natsURL  string
	ready    chan struct{}

	// Lock order: mu is a leaf.
	mu struct {
		sync.Mutex
		launching  map[int64]bool     // node id → its instance is being created
		destroying map[int64]bool     // node id → its instance is being deleted
		launched   map[roleKey]string // the node the autoscaler's last launch created, until its event is recorded
	}
}

// New checks cfg and builds the provider. It starts nothing.
func New(cfg config.Manager, logger *slog.Logger) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.REST.AdminToken == "" {
		return nil, errors.New("rest.admin_token: required (the token of the admin API)")
	}
	prov, err := newProvider(cfg, logger.With("component", "provider"))
	if err != nil {
		return nil, err
	}
	return newManager(cfg, prov, logger), nil
}

// newManager builds a manager around prov (nil: no provider, no
// autoscaler).
func newManager(cfg config.Manager, prov cloud, logger *slog.Logger) *Manager {
	secret := cfg.Cluster.Secret
	if secret == "" {
		secret = RandomToken()
	}
	m := &Manager{cfg: cfg, logger: logger, prov: prov, secret: secret, tasks: newTasks(), ready: make(chan struct{})}
	m.mu.launching = map[int64]bool{}
	m.mu.destroying = map[int64]bool{}
	m.mu.launched = map[roleKey]string{}
	m.refusals.counts = map[roleKey]int{}
	return m
}

// RandomToken returns 32 random hex digits, for generated tokens and
// secrets.
func RandomToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand documents it)
	return hex.EncodeToString(b[:])
}

// Ready is closed once the manager serves its API.
func (m *Manager) Ready() <-chan struct{} { return m.ready }

// HTTPAddr is the API's listen address, valid after Ready.
func (m *Manager) HTTPAddr() *net.TCPAddr { return m.httpAddr }

// URL is the manager's base URL (http.public_url, or derived from the
// listen address), valid after Ready.
func (m *Manager) URL() string { return m.url }

// NATSURL is the NATS URL the nodes join, valid after Ready.
func (m *Manager) NATSURL() string { return m.natsURL }

// Run opens the store, seeds it, starts NATS (unless external), serves the
// API and runs the selector, the monitor, the provider, the autoscaler and
// the reconciler until ctx ends. When it returns, the nodes the provider
// ran are stopped and their records removed.
func (m *Manager) Run(ctx context.Context) error {
	st, err := store.Open(ctx, m.cfg.Store.DSN)
	if err != nil {
		return err
	}
	defer func() { _ = st.Close() }() // nothing is written after Run's last step
	m.st = st
	if err := seed(ctx, st, m.cfg.Seed, m.logger); err != nil {
		return err
	}

	var ns *natsserver.Server
	if m.cfg.NATS.URL != "" {
		m.natsURL = m.cfg.NATS.URL
	} else {
		ns, err = cluster.StartServer(cluster.EmbeddedConfig{
			Listen:     m.cfg.NATS.Embedded.Listen,
			StoreDir:   m.cfg.NATS.Embedded.StoreDir,
			ServerName: "shoal-manager",
		}, m.logger.With("component", "nats"))
		if err != nil {
			return err
		}
		defer func() {
			ns.Shutdown()
			ns.WaitForShutdown()
		}()
		m.natsURL = ns.ClientURL()
	}

	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", m.cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("http listen on %s: %w", m.cfg.HTTP.Addr, err)
	}
	m.httpAddr = ln.Addr().(*net.TCPAddr)
	m.url = publicURL(m.cfg.HTTP.PublicURL, m.httpAddr)

	m.sel = api.NewSelector(st, api.Weights{
		Streams:     m.cfg.Selection.StreamsWeight,
		Connections: m.cfg.Selection.ConnectionsWeight,
		Subscribers: m.cfg.Selection.SubscribersWeight,
		Memory:      m.cfg.Selection.MemoryWeight,
	}, m.cfg.Selection.RefreshInterval, m.logger.With("component", "selector"))
	con, err := console.New(console.Config{Store: st, AdminToken: m.cfg.REST.AdminToken, NATSURL: m.natsURL, Logger: m.logger.With("component", "console")})
	if err != nil {
		_ = ln.Close()
		return err
	}
	apiCfg := api.Config{
		Store: st, Selector: m.sel, AdminToken: m.cfg.REST.AdminToken, ClusterSecret: m.secret,
		ReportInterval: m.cfg.Cluster.ReportInterval, Logger: m.logger.With("component", "api"),
		OnReport: func(nodeID string, r agentapi.Report) { con.ObserveSharedObjects(nodeID, r.SharedObjects) },
	}
	if m.prov != nil {
		apiCfg.Launcher = launcher{m}
		apiCfg.GroupRemover = launcher{m}
	}
	apiSrv, err := api.New(apiCfg)
	if err != nil {
		_ = ln.Close()
		return err
	}
	srv := &http.Server{Handler: m.routes(apiSrv, con), ReadHeaderTimeout: 10 * time.Second}
	monitor := api.NewMonitor(st, m.cfg.Cluster.ReportInterval, m.cfg.Cluster.MissedReports, m.logger.With("component", "monitor"))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	if m.prov != nil {
		g.Go(func() error { return m.tasks.run(gctx) })
	}
	// Records left by a previous run whose instances are gone go first,
	// so that the autoscaler's first look is at the truth.
	if err = m.reconcile(gctx); err == nil {
		m.logger.Info("manager started", "http_addr", m.httpAddr.String(), "url", m.url, "nats_url", m.natsURL,
			"provider", m.cfg.Provider.Type, "store", redactDSN(m.cfg.Store.DSN))
		close(m.ready)
		g.Go(func() error { return serveHTTP(gctx, srv, ln) })
		g.Go(func() error { return m.sel.Run(gctx) })
		g.Go(func() error { return con.Run(gctx) })
		g.Go(func() error { return monitor.Run(gctx) })
		g.Go(func() error { return m.reconcileLoop(gctx) })
		if m.prov != nil {
			g.Go(func() error { return m.prov.Run(gctx) })
			sc := scaler.New(scaler.Config{Interval: m.cfg.Autoscale.Interval}, view{m}, actuator{m}, recorder{m},
				m.logger.With("component", "scaler"))
			g.Go(func() error { return sc.Run(gctx) })
		}
	} else {
		_ = ln.Close()
		err = fmt.Errorf("first reconcile: %w", err)
		cancel()
	}
	if werr := g.Wait(); err == nil {
		err = werr
	}

	// The provider stopped its processes; remove their records.
	cleanCtx, stopClean := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer stopClean()
	if rerr := m.reconcile(cleanCtx); rerr != nil {
		m.logger.Warn("final reconcile failed", "err", rerr)
	}
	m.logger.Info("manager stopped")
	return err
}

// routes serves the API under its base path, the web console under
// /console/ (and / redirects there), and /healthz.
func (m *Manager) routes(apiSrv, con http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(api.BasePath+"/", m.countRefusals(apiSrv))
	mux.Handle(console.Path, con)
	mux.Handle("GET /{$}", console.Redirect())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n")) // a client that left needs no answer
	})
	return mux
}

func serveHTTP(ctx context.Context, srv *http.Server, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx) // connections still open after 5s are cut
	})
	defer stop()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http: %w", err)
	}
	return nil
}

// publicURL is configured, or http://<listen host, 127.0.0.1 if
// unspecified>:<port>.
func publicURL(configured string, addr *net.TCPAddr) string {
	if configured != "" {
		return strings.TrimRight(configured, "/")
	}
	host := "127.0.0.1"
	if addr.IP != nil && !addr.IP.IsUnspecified() {
		host = addr.IP.String()
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(addr.Port))
}

// redactDSN hides the password of a postgres:// DSN for logs.
func redactDSN(dsn string) string {
	scheme, rest, ok := strings.Cut(dsn, "://")
	if !ok {
		return dsn
	}
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return dsn
	}
	user, _, _ := strings.Cut(rest[:at], ":")
	return scheme + "://" + user + ":***@" + rest[at+1:]
}

// reconcileLoop reconciles every autoscale interval until ctx ends.
func (m *Manager) reconcileLoop(ctx context.Context) error {
	t := time.NewTicker(m.cfg.Autoscale.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := m.reconcile(ctx); err != nil && ctx.Err() == nil {
				m.logger.Warn("reconcile failed", "err", err)
			}
		}
	}
}
