// Package console serves the stream manager's web console: static HTML,
// CSS and JavaScript embedded in the binary (no build step), and the JSON
// and server-sent-event endpoints they read.
//
// The console shows the fleet (groups, nodes, streams), the shared objects
// (read straight from JetStream: the object logs and the presence bucket),
// and scaling (events with their reasons, load per group and role against
// the alarm threshold). It writes nothing: the page's actions call the REST
// API (package api) with the admin token, so there is one write path.
//
// Every data endpoint needs the admin token as "Authorization: Bearer";
// only the page and its static files load without it. Endpoints, under
// Path:
//
//	GET  /console/                 the page (sign-in first)
//	GET  /console/static/...       CSS, JavaScript
//	GET  /console/api/session      200 with the token, 401 without, 403 with a wrong one
//	GET  /console/api/snapshot     the whole state as JSON (all sections)
//	GET  /console/api/events       server-sent events: all sections, then the changed ones every Interval
//	GET  /console/api/history      load and shared-object rate histories
//	GET  /console/api/object       one shared object's attributes (?scope=&name=&persistent=)
//	GET  /console/api/node/{id}    one node's state history
//
// A sampler (Run) reads the store every Interval, and follows the
// shared-object streams continuously; it keeps the state in sections
// (fleet, config, scaling, objects, tick) and each event stream sends only
// the sections that changed since it last sent them, so a slow client
// skips states instead of queueing them.
package console

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/shoal-live/shoal/internal/agentapi"
	"github.com/shoal-live/shoal/internal/store"
)

// Path is where the console is mounted; the handler expects the full path.
const Path = "/console/"

//go:embed static
var staticFiles embed.FS

// Store is what the console reads from the control-plane database.
// *store.Store implements it.
type Store interface {
	Groups(ctx context.Context) ([]store.NodeGroup, error)
	Nodes(ctx context.Context, f store.NodeFilter) ([]store.Node, error)
	Reports(ctx context.Context, group string) ([]store.Report, error)
	Streams(ctx context.Context, f store.StreamFilter) ([]store.Stream, error)
	Policies(ctx context.Context) ([]store.ScalePolicy, error)
	LaunchConfigs(ctx context.Context) ([]store.LaunchConfig, error)
	Alarm(ctx context.Context, role store.Role) (store.Alarm, error)
	ScalingEvents(ctx context.Context, f store.ScalingEventFilter) ([]store.ScalingEvent, error)
	NodeEvents(ctx context.Context, identifier string) ([]store.NodeEvent, error)
}

var _ Store = (*store.Store)(nil)

// Config is what the console needs. Store and AdminToken are required.
type Config struct {
	Store Store
	// AdminToken is the REST API's admin token; the console accepts the
	// same token.
	AdminToken string
	// NATSURL is the NATS server holding the shared-object streams (the
	// manager's embedded server or the external one). Empty disables the
	// shared-object view.
	NATSURL string
	// Interval is the sampling and push interval; default 1s.
	Interval time.Duration
	// History is how many samples the load and rate histories keep;
	// default 300 (five minutes at 1s).
	History int
	// ScalingEvents is how many recent scaling events the page gets;
	// default 200.
	ScalingEvents int
	Logger        *slog.Logger
}

// Console is the web console as an http.Handler. Run samples the state the
// page shows; without Run the data endpoints answer 503.
type Console struct {
	cfg    Config
	st     Store
	logger *slog.Logger
	mux    *http.ServeMux
	so     *soWatcher // nil without NATS

	state *state
	// done is closed when Run returns, which ends the event streams (an
	// HTTP server's Shutdown waits for them otherwise).
	done     chan struct{}
	doneOnce sync.Once

	mu struct {
		sync.Mutex
		// soClients holds the shared-object client counts of each node's
		// latest report, by node identifier.
		soClients map[string]nodeSOStats
	}
}

// nodeSOStats is the shared-object part of one node's report.
type nodeSOStats struct {
	at    time.Time
	stats []agentapi.SharedObjectStat
}

// New checks cfg and builds the console. It starts nothing.
func New(cfg Config) (*Console, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("console: Store is required")
	case cfg.AdminToken == "":
		return nil, errors.New("console: AdminToken is required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.History <= 0 {
		cfg.History = 300
	}
	if cfg.ScalingEvents <= 0 {
		cfg.ScalingEvents = 200
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Console{cfg: cfg, st: cfg.Store, logger: cfg.Logger, state: newState(cfg.History), done: make(chan struct{})}
	c.mu.soClients = map[string]nodeSOStats{}
	if cfg.NATSURL != "" {
		c.so = newSOWatcher(cfg.NATSURL, cfg.History, cfg.Logger.With("component", "console_so"))
	}
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		return nil, err
	}
	c.mux = http.NewServeMux()
	c.mux.Handle("GET "+Path+"{$}", serveFile(sub, "index.html"))
	c.mux.Handle("GET "+Path+"static/", http.StripPrefix(Path+"static/", http.FileServerFS(sub)))
	c.mux.Handle("GET "+Path+"api/session", c.data(c.session))
	c.mux.Handle("GET "+Path+"api/snapshot", c.data(c.snapshot))
	c.mux.Handle("GET "+Path+"api/events", c.data(c.events))
	c.mux.Handle("GET "+Path+"api/history", c.data(c.history))
	c.mux.Handle("GET "+Path+"api/object", c.data(c.object))
	c.mux.Handle("GET "+Path+"api/node/{id}", c.data(c.nodeEvents))
	c.mux.HandleFunc(Path, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no console endpoint "+r.Method+" "+r.URL.Path)
	})
	return c, nil
}

// ServeHTTP serves the console under Path.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mux.ServeHTTP(w, r)
}

// Redirect answers "/" with a redirect to the console.
func Redirect() http.Handler {
	return http.RedirectHandler(Path, http.StatusFound)
}

// Run samples the store every Interval and follows the shared-object
// streams until ctx is done. When it returns, open event streams end.
func (c *Console) Run(ctx context.Context) error {
	defer c.doneOnce.Do(func() { close(c.done) })
	g, ctx := errgroup.WithContext(ctx)
	if c.so != nil {
		g.Go(func() error { return c.so.run(ctx) })
	}
	g.Go(func() error {
		t := time.NewTicker(c.cfg.Interval)
		defer t.Stop()
		for {
			c.sample(ctx)
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
	})
	return g.Wait()
}

// ObserveSharedObjects records the shared-object client counts of a node's
// latest report (agentapi.Report.SharedObjects). The REST API's report
// handler calls it; until then the console shows which nodes have clients
// of an object (presence) without counts.
func (c *Console) ObserveSharedObjects(node string, stats []agentapi.SharedObjectStat) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(stats) == 0 {
		delete(c.mu.soClients, node)
		return
	}
	c.mu.soClients[node] = nodeSOStats{at: time.Now(), stats: stats}
}

// soClientCounts returns the client counts by object and node. With a
// non-nil keep, it first forgets the nodes not in it (removed nodes).
func (c *Console) soClientCounts(keep map[string]bool) map[soKey]map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[soKey]map[string]int{}
	for node, s := range c.mu.soClients {
		if keep != nil && !keep[node] {
			delete(c.mu.soClients, node)
			continue
		}
		for _, st := range s.stats {
			k := soKey{scope: st.Scope, name: st.Name, persistent: st.Persistent}
			if out[k] == nil {
				out[k] = map[string]int{}
			}
			out[k][node] += st.Clients
		}
	}
	return out
}

// data wraps a data endpoint with the token check.
func (c *Console) data(h func(w http.ResponseWriter, r *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		switch err := checkToken(r, c.cfg.AdminToken); {
		case errors.Is(err, errNoToken):
			w.Header().Set("WWW-Authenticate", `Bearer realm="console"`)
			writeError(w, http.StatusUnauthorized, "sign in with the admin token (rest.admin_token)")
			return
		case errors.Is(err, errBadToken):
			writeError(w, http.StatusForbidden, "wrong admin token")
			return
		}
		h(w, r)
	})
}

var (
	errNoToken  = errors.New("missing token")
	errBadToken = errors.New("wrong token")
)

// checkToken compares the request's bearer token with want in constant
// time. The console takes no token in the URL, so none lands in logs.
func checkToken(r *http.Request, want string) error {
	scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	got = strings.TrimSpace(got)
	if !ok || !strings.EqualFold(scheme, "Bearer") || got == "" {
		return errNoToken
	}
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	if subtle.ConstantTimeCompare(g[:], w[:]) != 1 {
		return errBadToken
	}
	return nil
}

func (c *Console) session(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"ok": true, "interval_ms": c.cfg.Interval.Milliseconds(), "shared_objects": c.so != nil,
	})
}

// errorBody is the body of every failed console request.
type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encode response"}`)
	}
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b) // the client went away; nothing to do
}

// serveFile serves one file of fsys.
func serveFile(fsys fs.FS, name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "read "+name)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(b) // the client went away; nothing to do
	})
}
