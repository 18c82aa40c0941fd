// Package agent is the media node's side of the stream manager's agent
// protocol (package agentapi): it registers the node, reports the node's
// load and streams every reporting interval and at once when a stream is
// published or unpublished, keeps what the manager answered (node id,
// role, group, parents, draining), and looks up the origin of a stream for
// the relay.
//
// The agent never stops the node: while the manager is unreachable it logs
// and retries with backoff, and the node keeps serving on its own.
//
//	start ──▶ registering ──ok──▶ reporting ──report answered 404 or 409──┐
//	            ▲     │                  │                                 │
//	            │     └─error: back off──┘ (report errors: retry next tick)│
//	            └──────────────────────────────────────────────────────────┘
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shoal-live/shoal/internal/agentapi"
)

// Defaults used for zero Config fields.
const (
	DefaultReportInterval = 10 * time.Second
	DefaultRequestTimeout = 10 * time.Second
	DefaultRetryMin       = 500 * time.Millisecond
	DefaultRetryMax       = 30 * time.Second
	DefaultDebounce       = 100 * time.Millisecond

	// MinReportInterval is the shortest reporting interval the agent
	// accepts, from its configuration or from the manager.
	MinReportInterval = time.Second

	// minRateWindow is the shortest window byte rates and CPU are computed
	// over; a report sooner after the last sample repeats the last rates.
	minRateWindow = time.Second
)

// Config says where the manager is and what the node tells it about
// itself.
type Config struct {
	// ManagerURL is the manager's base URL (scheme, host and port, for
	// example http://10.0.0.1:5080); the agentapi paths are appended.
	ManagerURL string
	// Secret is the cluster secret, sent as a Bearer token.
	Secret string
	// NodeID is the identifier a provider gave the node; empty for a node
	// started by hand, which the manager then adopts.
	NodeID string
	// Role and Group the node asks for; the manager's record wins.
	Role  string
	Group string
	// Host, RTMPPort and HTTPPort are where clients reach the node.
	Host     string
	RTMPPort int
	HTTPPort int
	Version  string
	// ReportInterval is used until the manager sets one (default 10s, at
	// least MinReportInterval).
	ReportInterval time.Duration
	// RequestTimeout bounds each request to the manager (default 10s).
	RequestTimeout time.Duration
	// RetryMin and RetryMax bound the backoff between registration
	// attempts (default 500ms and 30s).
	RetryMin, RetryMax time.Duration
	// Debounce is how long a publish or unpublish waits for others before
	// it is reported (default 100ms).
	Debounce time.Duration
	// Client sends the requests; http.DefaultClient's transport if nil.
	Client *http.Client
}

func (c Config) withDefaults() Config {
	if c.ReportInterval <= 0 {
		c.ReportInterval = DefaultReportInterval
	}
	c.ReportInterval = max(c.ReportInterval, MinReportInterval)
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.RetryMin <= 0 {
		c.RetryMin = DefaultRetryMin
	}
	if c.RetryMax < c.RetryMin {
		c.RetryMax = max(DefaultRetryMax, c.RetryMin)
	}
	if c.Debounce <= 0 {
		c.Debounce = DefaultDebounce
	}
	if c.Client == nil {
		c.Client = &http.Client{}
	}
	c.ManagerURL = strings.TrimRight(c.ManagerURL, "/")
	return c
}

// Stats is what the node counts, as its statsSource returns it. Byte
// counters are totals since the node started; the agent turns them into
// rates.
type Stats struct {
	// Connections counts RTMP, HTTP and WebSocket clients, including edges
	// pulling from this node.
	Connections int
	// Publishers counts publishing clients (not streams pulled from an
	// origin).
	Publishers int
	// Subscribers counts players, not counting edges pulling from this
	// node.
	Subscribers int
	BytesIn     uint64
	BytesOut    uint64
	Streams     []agentapi.Stream
	// SharedObjects lists the shared objects the node's clients use.
	SharedObjects []agentapi.SharedObjectStat
}

// statsSource is the part of the node the agent reports on.
type statsSource interface {
	Stats() Stats
}

// State is what the agent knows of its standing with the manager.
type State struct {
	// Registered is true from a successful registration until a report is
	// answered 404 or 409.
	Registered bool `json:"registered"`
	// NodeID, Role and Group are the manager's record of the node; empty
	// before the first registration.
	NodeID   string   `json:"node_id,omitempty"`
	Role     string   `json:"role,omitempty"`
	Group    string   `json:"group,omitempty"`
	Parents  []string `json:"parents,omitempty"`
	Draining bool     `json:"draining"`
	// ManagerState is the node's state in the manager (inservice, …) from
	// the last report answer.
	ManagerState string `json:"manager_state,omitempty"`
	// LastReport is when a report was last accepted.
	LastReport time.Time `json:"last_report,omitzero"`
	// LastError is why the last request to the manager failed; empty when
	// it succeeded.
	LastError string `json:"last_error,omitempty"`
}

// Agent registers a node with the stream manager and reports its load.
type Agent struct {
	cfg    Config
	src    statsSource
	logger *slog.Logger
	notify chan struct{} // capacity 1: "a stream was published or unpublished"

	mu struct {
		sync.Mutex
		state    State
		interval time.Duration // reporting interval in force
	}

	// Owned by the Run goroutine.
	prev     rateSample
	rates    rates
	failures int // consecutive failed reports
}

// rateSample is the counters at the last rate computation.
type rateSample struct {
	at                time.Time
	bytesIn, bytesOut uint64
	cpuTicks          uint64
	cpuOK             bool
}

// rates are the per-second values reported until the next computation.
type rates struct {
	bytesIn, bytesOut int64
	cpu               float64
}

// New returns an agent for the node described by cfg, reporting what src
// counts. Run starts it.
func New(cfg Config, src statsSource, logger *slog.Logger) *Agent {
	a := &Agent{cfg: cfg.withDefaults(), src: src, logger: logger, notify: make(chan struct{}, 1)}
	a.mu.interval = a.cfg.ReportInterval
	return a
}

// Notify asks for a report soon (after the debounce delay), because a
// stream was published or unpublished. It never blocks and may be called
// from any goroutine, before or during Run.
func (a *Agent) Notify() {
	select {
	case a.notify <- struct{}{}:
	default:
	}
}

// Draining reports whether the manager asked the node to take no new
// clients.
func (a *Agent) Draining() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.mu.state.Draining
}

// Parents returns the origins ("host:rtmp_port") the manager gave the
// node, from the latest registration or report answer.
func (a *Agent) Parents() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.mu.state.Parents)
}

// State returns what the agent knows of its standing with the manager.
func (a *Agent) State() State {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.mu.state
	s.Parents = slices.Clone(s.Parents)
	return s
}

// Run registers, then reports until ctx is done. It returns nil when ctx
// is done; the manager's failures are logged and retried, never returned.
func (a *Agent) Run(ctx context.Context) error {
	for ctx.Err() == nil && a.registerLoop(ctx) {
		a.reportLoop(ctx) // returns to register again, or when ctx is done
	}
	return nil
}

// registerLoop registers, retrying with backoff. It returns false when ctx
// is done first.
func (a *Agent) registerLoop(ctx context.Context) bool {
	req := agentapi.RegisterRequest{
		NodeID: a.cfg.NodeID, Role: a.cfg.Role, Group: a.cfg.Group, Host: a.cfg.Host,
		RTMPPort: a.cfg.RTMPPort, HTTPPort: a.cfg.HTTPPort, Version: a.cfg.Version,
	}
	backoff := a.cfg.RetryMin
	for attempt := 1; ; attempt++ {
		resp, err := a.register(ctx, req)
		if err == nil {
			a.registered(resp)
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		a.setError(err)
		if req.NodeID != "" && isStatus(err, http.StatusNotFound) {
			// The manager does not know the id (a node started by hand
			// with node.id set, or a manager that lost its records):
			// register as a hand-started node, which it adopts.
			a.logger.Warn("stream manager does not know the node id, registering without it",
				"requested_node_id", req.NodeID, "err", err)
			req.NodeID = ""
			continue
		}
		level := slog.LevelWarn
		if isStatus(err, http.StatusUnauthorized) || isStatus(err, http.StatusForbidden) {
			level = slog.LevelError // a wrong cluster secret will not fix itself
		}
		a.logger.Log(ctx, level, "stream manager registration failed, node keeps serving stand-alone",
			"manager_url", a.cfg.ManagerURL, "attempt", attempt, "retry_in", backoff.String(), "err", err)
		if !sleep(ctx, backoff) {
			return false
		}
		backoff = min(2*backoff, a.cfg.RetryMax)
	}
}

// registered stores the manager's answer to a registration.
func (a *Agent) registered(resp agentapi.RegisterResponse) {
	interval := a.cfg.ReportInterval
	if d := resp.ReportInterval(); d > 0 {
		interval = max(d, MinReportInterval)
	}
	a.mu.Lock()
	a.mu.state.Registered = true
	a.mu.state.NodeID = resp.NodeID
	a.mu.state.Role = resp.Role
	a.mu.state.Group = resp.Group
	a.mu.state.Parents = resp.Parents
	a.mu.state.LastError = ""
	a.mu.interval = interval
	a.mu.Unlock()
	a.logger.Info("registered with stream manager", "manager_url", a.cfg.ManagerURL, "manager_node_id", resp.NodeID,
		"role", resp.Role, "group", resp.Group, "parents", strings.Join(resp.Parents, ","),
		"report_interval", interval.String())
}

// reportLoop reports at once, then every interval and shortly after each
// Notify. It returns when ctx is done or the node must register again.
func (a *Agent) reportLoop(ctx context.Context) {
	tick := time.NewTimer(0)
	defer tick.Stop()
	var debounce *time.Timer
	var debounced <-chan time.Time
	defer func() {
		if debounce != nil {
			debounce.Stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.notify:
			if debounced == nil {
				debounce = time.NewTimer(a.cfg.Debounce)
				debounced = debounce.C
			}
			continue
		case <-debounced:
		case <-tick.C:
		}
		if debounce != nil {
			debounce.Stop()
			debounce, debounced = nil, nil
		}
		if reregister := a.reportOnce(ctx); reregister {
			return
		}
		tick.Reset(a.interval())
	}
}

func (a *Agent) interval() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.mu.interval
}

// reportOnce sends one report and stores the answer. It returns true when
// the manager no longer knows the node (404) or wants it to register first
// (409).
func (a *Agent) reportOnce(ctx context.Context) bool {
	rep := a.buildReport(time.Now())
	resp, err := a.report(ctx, rep)
	switch {
	case err == nil:
		a.reported(resp)
		return false
	case ctx.Err() != nil:
		return false
	case isStatus(err, http.StatusNotFound), isStatus(err, http.StatusConflict):
		a.mu.Lock()
		a.mu.state.Registered = false
		a.mu.state.LastError = err.Error()
		a.mu.Unlock()
		a.failures = 0
		a.logger.Warn("stream manager no longer knows the node, registering again", "node_id", rep.NodeID, "err", err)
		return true
	default:
		a.setError(err)
		a.failures++
		if a.failures == 1 {
			a.logger.Warn("report to stream manager failed, retrying every interval", "manager_url", a.cfg.ManagerURL,
				"err", err)
		} else {
			a.logger.Debug("report to stream manager failed", "failures", a.failures, "err", err)
		}
		return false
	}
}

// reported stores the manager's answer to a report.
func (a *Agent) reported(resp agentapi.ReportResponse) {
	if a.failures > 0 {
		a.logger.Info("reports to stream manager resumed", "failed_reports", a.failures)
		a.failures = 0
	}
	a.mu.Lock()
	was := a.mu.state.Draining
	a.mu.state.Draining = resp.Draining
	a.mu.state.ManagerState = resp.State
	if resp.Parents != nil {
		a.mu.state.Parents = resp.Parents
	}
	a.mu.state.LastReport = time.Now()
	a.mu.state.LastError = ""
	a.mu.Unlock()
	switch {
	case resp.Draining && !was:
		a.logger.Info("node draining: refusing new players", "manager_state", resp.State)
	case !resp.Draining && was:
		a.logger.Info("node no longer draining", "manager_state", resp.State)
	}
}

func (a *Agent) setError(err error) {
	a.mu.Lock()
	a.mu.state.LastError = err.Error()
	a.mu.Unlock()
}

// buildReport samples the node's counters and the process, and turns
// counter deltas into rates.
func (a *Agent) buildReport(now time.Time) agentapi.Report {
	st := a.src.Stats()
	proc, perr := readProc()
	cur := rateSample{at: now, bytesIn: st.BytesIn, bytesOut: st.BytesOut, cpuTicks: proc.cpuTicks, cpuOK: perr == nil}
	switch elapsed := now.Sub(a.prev.at); {
	case a.prev.at.IsZero():
		a.prev = cur
	case elapsed >= minRateWindow:
		secs := elapsed.Seconds()
		a.rates.bytesIn = int64(float64(delta(cur.bytesIn, a.prev.bytesIn)) / secs)
		a.rates.bytesOut = int64(float64(delta(cur.bytesOut, a.prev.bytesOut)) / secs)
		a.rates.cpu = 0
		if cur.cpuOK && a.prev.cpuOK {
			a.rates.cpu = float64(delta(cur.cpuTicks, a.prev.cpuTicks)) / clockTicks / secs
		}
		a.prev = cur
	}
	streams := st.Streams
	if streams == nil {
		streams = []agentapi.Stream{}
	}
	a.mu.Lock()
	nodeID := a.mu.state.NodeID
	a.mu.Unlock()
	return agentapi.Report{
		NodeID:       nodeID,
		Connections:  st.Connections,
		Publishers:   st.Publishers,
		Subscribers:  st.Subscribers,
		BytesInPerS:  a.rates.bytesIn,
		BytesOutPerS: a.rates.bytesOut,
		CPU:          a.rates.cpu,
		MemoryBytes:  proc.rssBytes,
		Streams:      streams,

		SharedObjects: st.SharedObjects,
	}
}

// delta is cur-prev for a counter, 0 if the counter went back.
func delta(cur, prev uint64) uint64 {
	if cur < prev {
		return 0
	}
	return cur - prev
}

// sleep waits for d or until ctx is done; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// ErrNotPublished is returned by Origin when no origin publishes the
// stream.
var ErrNotPublished = errors.New("stream not published on any origin")

// Origin asks the manager which origin publishes scope/name. It works
// before registration too: only the cluster secret is needed.
func (a *Agent) Origin(ctx context.Context, scope, name string) (agentapi.OriginResponse, error) {
	var resp agentapi.OriginResponse
	q := "?scope=" + url.QueryEscape(scope) + "&stream=" + url.QueryEscape(name)
	err := a.do(ctx, http.MethodGet, agentapi.OriginPath+q, nil, &resp)
	switch {
	case isStatus(err, http.StatusNotFound):
		return resp, fmt.Errorf("origin of %s/%s: %w", scope, name, ErrNotPublished)
	case err != nil:
		return resp, fmt.Errorf("origin of %s/%s: %w", scope, name, err)
	case resp.RTMPURL == "":
		return resp, fmt.Errorf("origin of %s/%s: manager answered without rtmp_url", scope, name)
	}
	return resp, nil
}
