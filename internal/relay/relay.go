// Package relay pulls live streams from origins into an edge's stream
// registry, so that every local player of a stream fans out from one pull.
//
// Ensure(key) starts a pull when none runs: it asks the origin locator
// (the stream manager) which origin publishes the stream, plays it from
// there over RTMP and publishes it locally under the same key. A pull
// lives as long as the stream has local subscribers, plus IdleTimeout.
//
// A pull's life:
//
//	Ensure ──lookup──▶ connecting ──play ok──▶ pulling ──origin lost──┐
//	   │                  ▲  │                                         │
//	   │                  │  └─fail─▶ backoff (RetryMin..RetryMax) ◀───┘
//	   │                  └─────lookup again──────┘
//	   └─not published: ErrStreamNotFound, no pull
//
//	no local subscriber for IdleTimeout (in any state) ──▶ stopped
//
// When the origin goes away the local publisher is closed, so local
// players stay attached for the registry's publisher grace period while
// the pull reconnects; they carry on if it is back in time.
package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shoal-live/shoal/internal/stream"
)

// Errors returned by Ensure.
var (
	// ErrStreamNotFound: no origin publishes the stream.
	ErrStreamNotFound = errors.New("stream not published on any origin")
	// ErrClosed: the relay has stopped.
	ErrClosed = errors.New("relay stopped")
)

// FlashVer is the flashVer the relay's RTMP client sends in connect, so an
// origin can tell edge pulls from players.
const FlashVer = "ShoalRelay/1.0"

// IsRelay reports whether flashVer, from a connect command, is a relay's.
func IsRelay(flashVer string) bool { return strings.HasPrefix(flashVer, "ShoalRelay/") }

// Defaults used for zero Config fields.
const (
	DefaultIdleTimeout    = 10 * time.Second
	DefaultRetryMin       = 500 * time.Millisecond
	DefaultRetryMax       = 10 * time.Second
	DefaultLookupTimeout  = 5 * time.Second
	DefaultConnectTimeout = 10 * time.Second
	DefaultReadTimeout    = 10 * time.Second
)

// Config tunes pulls.
type Config struct {
	// IdleTimeout is how long a pull goes on after its last local
	// subscriber left (default 10s).
	IdleTimeout time.Duration
	// RetryMin and RetryMax bound the backoff between attempts to reach
	// the origin (default 500ms and 10s).
	RetryMin, RetryMax time.Duration
	// LookupTimeout bounds an origin lookup, and so Ensure (default 5s).
	LookupTimeout time.Duration
	// ConnectTimeout bounds connecting to the origin and starting to play
	// (default 10s).
	ConnectTimeout time.Duration
	// ReadTimeout: an origin silent this long is dropped and dialled again
	// (default 10s; it is pinged after half of it).
	ReadTimeout time.Duration
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.IdleTimeout, DefaultIdleTimeout)
	def(&c.RetryMin, DefaultRetryMin)
	def(&c.RetryMax, DefaultRetryMax)
	def(&c.LookupTimeout, DefaultLookupTimeout)
	def(&c.ConnectTimeout, DefaultConnectTimeout)
	def(&c.ReadTimeout, DefaultReadTimeout)
	c.RetryMax = max(c.RetryMax, c.RetryMin)
	return c
}

// originLocator finds where a stream is published: the RTMP URL of key
// (scope/name) on its origin, or an error wrapping ErrStreamNotFound.
type originLocator interface {
	Origin(ctx context.Context, key string) (string, error)
}

// LocatorFunc is an originLocator made of a function.
type LocatorFunc func(ctx context.Context, key string) (string, error)

// Origin calls f.
func (f LocatorFunc) Origin(ctx context.Context, key string) (string, error) { return f(ctx, key) }

// registry is the part of the local stream registry the relay uses.
type registry interface {
	Publish(key string) (*stream.Publisher, error)
	OnChange(f func(stream.Event))
}

// Relay runs the pulls of one edge.
type Relay struct {
	cfg    Config
	loc    originLocator
	reg    registry
	logger *slog.Logger
	starts chan *pull    // Ensure hands new pulls to Run
	done   chan struct{} // closed when Run has returned
	runs   sync.Once     // Run runs once

	mu struct {
		sync.Mutex
		pulls   map[string]*pull
		lastSeq uint64 // newest registry event seen
		closed  bool   // Run is stopping: no new pulls
	}
}

// pull is one stream pulled from an origin.
type pull struct {
	r      *Relay
	key    string
	logger *slog.Logger

	// Guarded by r.mu.
	url       string // the origin's RTMP URL of the stream
	connected bool
	notFound  bool // the last lookup found no origin
	subs      int  // local subscribers
	seq       uint64
	idle      *time.Timer // runs while subs == 0
	idleGen   uint64
	stopped   bool
	cancel    context.CancelFunc // ends run; nil until Run starts it
}

// New returns a relay that finds origins with loc and publishes pulled
// streams into reg. It subscribes to reg's changes to count local
// subscribers. Run starts it.
func New(cfg Config, loc originLocator, reg registry, logger *slog.Logger) *Relay {
	r := &Relay{
		cfg: cfg.withDefaults(), loc: loc, reg: reg, logger: logger,
		starts: make(chan *pull), done: make(chan struct{}),
	}
	r.mu.pulls = make(map[string]*pull)
	reg.OnChange(r.observe)
	return r
}

// Run runs the pulls until ctx is done, then stops them and returns nil.
func (r *Relay) Run(ctx context.Context) error {
	first := false
	r.runs.Do(func() { first = true })
	if !first {
		return errors.New("relay: Run called twice")
	}
	defer close(r.done)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			r.mu.Lock()
			r.mu.closed = true
			for _, p := range r.mu.pulls {
				p.stopLocked()
			}
			r.mu.Unlock()
			return nil
		case p := <-r.starts:
			pctx, cancel := context.WithCancel(ctx)
			r.mu.Lock()
			if p.stopped {
				r.mu.Unlock()
				cancel()
				continue
			}
			p.cancel = cancel
			r.mu.Unlock()
			wg.Go(func() {
				defer cancel()
				p.run(pctx)
			})
		}
	}
}

// Ensure makes sure key (scope/name) is being pulled, starting a pull if
// none runs. It returns ErrStreamNotFound when the locator knows no origin
// for key (also when an existing pull lost its origin and the locator no
// longer knows one), and other errors when the lookup failed. Ensure
// returns within Config.LookupTimeout.
func (r *Relay) Ensure(key string) error {
	r.mu.Lock()
	if p := r.mu.pulls[key]; p != nil {
		p.touchLocked()
		nf := p.notFound
		r.mu.Unlock()
		if nf {
			return fmt.Errorf("relay %s: %w", key, ErrStreamNotFound)
		}
		return nil
	}
	closed := r.mu.closed
	r.mu.Unlock()
	if closed {
		return ErrClosed
	}

	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.LookupTimeout)
	defer cancel()
	u, err := r.lookup(ctx, key)
	if err != nil {
		return err
	}

	r.mu.Lock()
	if p := r.mu.pulls[key]; p != nil { // another Ensure was quicker
		p.touchLocked()
		r.mu.Unlock()
		return nil
	}
	if r.mu.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	p := &pull{r: r, key: key, url: u, seq: r.mu.lastSeq, logger: r.logger.With("stream", key)}
	r.mu.pulls[key] = p
	p.armIdleLocked()
	r.mu.Unlock()

	select {
	case r.starts <- p:
		p.logger.Info("relay pull started", "origin_url", u)
		return nil
	case <-r.done:
	case <-ctx.Done():
	}
	r.mu.Lock()
	p.stopLocked()
	r.mu.Unlock()
	return fmt.Errorf("relay %s: start pull: %w", key, ErrClosed)
}

// lookup asks the locator for key's origin URL and checks it.
func (r *Relay) lookup(ctx context.Context, key string) (string, error) {
	u, err := r.loc.Origin(ctx, key)
	if err != nil {
		if errors.Is(err, ErrStreamNotFound) {
			return "", err
		}
		return "", fmt.Errorf("relay %s: look up origin: %w", key, err)
	}
	if _, _, err := splitURL(u); err != nil {
		return "", fmt.Errorf("relay %s: origin url: %w", key, err)
	}
	return u, nil
}

// splitURL splits rtmp://host[:port]/app[/room...]/name into the URL to
// connect to and the name to play.
func splitURL(raw string) (app, name string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", err
	}
	if u.Scheme != "rtmp" || u.Host == "" {
		return "", "", fmt.Errorf("%q is not rtmp://host/app/name", raw)
	}
	i := strings.LastIndexByte(raw, '/')
	app, name = raw[:i], raw[i+1:]
	if name == "" || len(app) <= len("rtmp://")+len(u.Host) {
		return "", "", fmt.Errorf("%q has no app and stream name", raw)
	}
	return app, name, nil
}

// Pulling reports whether key is pulled from an origin (so it is not
// published on this node, whatever the local registry says).
func (r *Relay) Pulling(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.pulls[key] != nil
}

// PullInfo describes one pull.
type PullInfo struct {
	Key         string `json:"key"`
	OriginURL   string `json:"origin_url"`
	Connected   bool   `json:"connected"`
	NotFound    bool   `json:"not_found,omitempty"`
	Subscribers int    `json:"subscribers"`
}

// Pulls describes the running pulls, sorted by key.
func (r *Relay) Pulls() []PullInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]PullInfo, 0, len(r.mu.pulls))
	for _, p := range r.mu.pulls {
		out = append(out, PullInfo{
			Key: p.key, OriginURL: p.url, Connected: p.connected, NotFound: p.notFound,
			Subscribers: p.subs,
		})
	}
	slices.SortFunc(out, func(a, b PullInfo) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// observe follows the local subscriber counts of pulled streams. It is
// the registry's OnChange handler: it must not block.
func (r *Relay) observe(e stream.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mu.lastSeq = max(r.mu.lastSeq, e.Seq)
	p := r.mu.pulls[e.Key]
	if p == nil || e.Seq <= p.seq {
		return // not pulled, or older than what the pull knows
	}
	p.seq = e.Seq
	p.subs = e.Subscribers
	if e.Type == stream.EventRemove {
		p.subs = 0
	}
	p.armIdleLocked()
}

// armIdleLocked runs the idle timer while the pull has no subscriber and
// stops it otherwise; r.mu must be held.
func (p *pull) armIdleLocked() {
	if p.subs > 0 {
		if p.idle != nil {
			p.idle.Stop()
			p.idle = nil
			p.idleGen++
		}
		return
	}
	if p.idle == nil && !p.stopped {
		p.idleGen++
		gen := p.idleGen
		p.idle = time.AfterFunc(p.r.cfg.IdleTimeout, func() { p.idleExpired(gen) })
	}
}

// touchLocked restarts the idle period: a player is about to subscribe;
// r.mu must be held.
func (p *pull) touchLocked() {
	if p.idle != nil {
		p.idle.Stop()
		p.idle = nil
		p.idleGen++
	}
	p.armIdleLocked()
}

// idleExpired stops the pull if it has had no subscriber for IdleTimeout.
func (p *pull) idleExpired(gen uint64) {
	r := p.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if gen != p.idleGen || p.subs > 0 || p.stopped {
		return
	}
	p.logger.Info("relay pull idle, stopping", "idle_timeout", r.cfg.IdleTimeout.String())
	p.stopLocked()
}

// stopLocked removes the pull and ends its run; r.mu must be held.
func (p *pull) stopLocked() {
	p.stopped = true
	if p.idle != nil {
		p.idle.Stop()
		p.idle = nil
	}
	if p.r.mu.pulls[p.key] == p {
		delete(p.r.mu.pulls, p.key)
	}
	if p.cancel != nil {
		p.cancel()
	}
}
