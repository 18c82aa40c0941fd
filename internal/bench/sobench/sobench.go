// Package sobench measures shared objects over RTMP: how late changes
// reach other clients (latency mode: one writer per object sets an
// attribute at a fixed rate) and how many changes a node accepts and
// delivers (throughput mode: writers set as fast as the server answers,
// each with a bounded number of changes in flight). Writers and readers may
// use different nodes of a cluster. `shoal bench so` runs it;
// bench/so.sh runs the whole benchmark against shoal-node processes.
//
// Every value a writer sets carries its sequence number and its send time,
// so each reader knows which changes it missed and how late each came. The
// server answers one connection's changes in order (Success, or Status for
// a refused one), which is how a writer matches answers to sends.
package sobench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shoal-live/shoal/internal/rtmp"
	"github.com/shoal-live/shoal/internal/sharedobject/soclient"
)

// Config configures Run.
type Config struct {
	// WriterURL is where writers connect: rtmp://host[:port]/app.
	WriterURL string
	// ReaderURL is where readers connect (WriterURL if empty).
	ReaderURL string
	// Readers is the number of reading connections; each uses every
	// object.
	Readers int
	// Objects is the number of shared objects, each with its own writing
	// connection.
	Objects int
	// Rate is the number of changes per second over all objects in
	// latency mode.
	Rate float64
	// Max selects throughput mode: writers set as fast as the server
	// answers.
	Max bool
	// Duration is the measurement window.
	Duration time.Duration
	// InFlight bounds each writer's unanswered changes (256 if zero).
	InFlight int
	// Encoding is the object encoding of the connections: 0 (AMF0) or 3
	// (AMF3).
	Encoding float64
	// Persistent selects persistent objects instead of transient ones.
	Persistent bool
	// Name prefixes the object names (a fresh "sobench-…" if empty).
	Name string
	// Settle bounds the wait, after the window, for the last answers and
	// deliveries (10s if zero).
	Settle time.Duration
	// ConnectTimeout bounds each connection's dial and Use (10s if zero).
	ConnectTimeout time.Duration
	// Logger receives progress events; a discarding logger if nil.
	Logger *slog.Logger
}

// ErrConfig is wrapped by the errors Run returns for a bad Config.
var ErrConfig = errors.New("bad configuration")

func (c *Config) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case c.WriterURL == "":
		return bad("writer url is empty")
	case c.Readers < 1:
		return bad("readers: %d, want at least 1", c.Readers)
	case c.Objects < 1:
		return bad("objects: %d, want at least 1", c.Objects)
	case !c.Max && c.Rate <= 0:
		return bad("rate: %g, want more than 0 (or throughput mode)", c.Rate)
	case c.Duration <= 0:
		return bad("duration: %s, want more than 0", c.Duration)
	case c.InFlight < 0:
		return bad("in-flight: %d, want 0 or more", c.InFlight)
	case c.Encoding != 0 && c.Encoding != 3:
		return bad("encoding: %g, want 0 or 3", c.Encoding)
	}
	if c.ReaderURL == "" {
		c.ReaderURL = c.WriterURL
	}
	if c.InFlight == 0 {
		c.InFlight = 256
	}
	if c.Settle <= 0 {
		c.Settle = 10 * time.Second
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	if c.Name == "" {
		c.Name = "sobench-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// run is one benchmark run's connections and counters.
type run struct {
	cfg     Config
	start   time.Time
	conns   []*watched
	writers []*writer
	readers []*reader
	rObjs   [][]*soclient.Object // by reader, by object

	cpuSelf, cpuMachine float64 // over the window, in percent of one CPU
}

// watched is a client connection whose end is noticed: a goroutine, ended
// by close, waits for the connection to fail.
type watched struct {
	c    *rtmp.ClientConn
	role string // "reader 3", "writer 0"
	done chan struct{}

	mu      sync.Mutex
	closing bool  // close was called; guarded by mu
	err     error // why the connection ended before close; guarded by mu
}

func watch(c *rtmp.ClientConn, role string) *watched {
	w := &watched{c: c, role: role, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		// Nothing is played, so ReadPacket returns only when the
		// connection ends.
		_, err := c.ReadPacket()
		w.mu.Lock()
		if !w.closing {
			w.err = fmt.Errorf("%s lost its connection: %w", role, err)
		}
		w.mu.Unlock()
	}()
	return w
}

// lost returns why the connection ended early, or nil.
func (w *watched) lost() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *watched) close() {
	w.mu.Lock()
	w.closing = true
	w.mu.Unlock()
	_ = w.c.Close()
	<-w.done
}

// lost returns the connections that ended early.
func (r *run) lost() []error {
	var errs []error
	for _, w := range r.conns {
		if err := w.lost(); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func (r *run) clock() time.Duration { return time.Since(r.start) }

// Run connects the writers and readers, primes every object, measures for
// cfg.Duration and waits (at most cfg.Settle) for the last answers and
// deliveries. It returns an error for a bad configuration or a failed
// connection; cancelling ctx during the window ends it early with a report
// marked Interrupted.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	r := &run{cfg: cfg, start: time.Now()}
	defer r.close()
	if err := r.connect(ctx); err != nil {
		return nil, err
	}
	if err := r.prime(ctx); err != nil {
		return nil, err
	}
	window, interrupted := r.measure(ctx)
	settleCtx, cancel := context.WithTimeout(ctx, cfg.Settle)
	defer cancel()
	settled := r.settle(settleCtx)
	rep := r.report(window, settled)
	rep.Interrupted = interrupted || ctx.Err() != nil
	return rep, nil
}

// dial connects one client and uses the given objects.
func (r *run) dial(ctx context.Context, role, url string, names []string) ([]*soclient.Object, *watched, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.ConnectTimeout)
	defer cancel()
	c, err := rtmp.Dial(ctx, url, rtmp.ClientOptions{ObjectEncoding: r.cfg.Encoding})
	if err != nil {
		return nil, nil, fmt.Errorf("connect to %s: %w", url, err)
	}
	wc := watch(c, role)
	r.conns = append(r.conns, wc)
	cl := soclient.New(c)
	objs := make([]*soclient.Object, len(names))
	for i, name := range names {
		// Batches() is not read: keep one batch, the least the client allows.
		if objs[i], err = cl.Use(ctx, name, r.cfg.Persistent, 1); err != nil {
			return nil, nil, fmt.Errorf("use %s on %s: %w", name, url, err)
		}
	}
	return objs, wc, nil
}

func (r *run) connect(ctx context.Context) error {
	names := make([]string, r.cfg.Objects)
	for i := range names {
		names[i] = r.cfg.Name + "-" + strconv.Itoa(i)
	}
	for i := range r.cfg.Readers {
		role := "reader " + strconv.Itoa(i)
		objs, wc, err := r.dial(ctx, role, r.cfg.ReaderURL, names)
		if err != nil {
			return fmt.Errorf("%s: %w", role, err)
		}
		rd := newReader(len(names), r.clock)
		rd.conn = wc
		for j, o := range objs {
			o.OnBatch(func(b soclient.Batch) { rd.onBatch(j, b) })
		}
		r.readers = append(r.readers, rd)
		r.rObjs = append(r.rObjs, objs)
	}
	for i, name := range names {
		role := "writer " + strconv.Itoa(i)
		objs, wc, err := r.dial(ctx, role, r.cfg.WriterURL, []string{name})
		if err != nil {
			return fmt.Errorf("%s: %w", role, err)
		}
		w := newWriter(objs[0], r.clock, r.cfg.InFlight)
		w.conn = wc
		objs[0].OnBatch(w.onBatch)
		r.writers = append(r.writers, w)
	}
	r.cfg.Logger.Info("connected", "writers", len(r.writers), "readers", len(r.readers),
		"writer_url", r.cfg.WriterURL, "reader_url", r.cfg.ReaderURL)
	return nil
}

// prime sends every object's uncounted change 0 and waits until every
// reader has it.
func (r *run) prime(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.ConnectTimeout)
	defer cancel()
	for i, w := range r.writers {
		if err := w.prime(ctx); err != nil {
			return fmt.Errorf("prime object %d: %w", i, err)
		}
	}
	for i, rd := range r.readers {
		if err := poll(ctx, rd.isPrimed); err != nil {
			return fmt.Errorf("reader %d: priming change did not arrive: %w", i, err)
		}
	}
	r.cfg.Logger.Info("primed", "objects", len(r.writers))
	return nil
}

// measure runs the writers for the window and returns its length.
func (r *run) measure(ctx context.Context) (window time.Duration, interrupted bool) {
	before := sampleCPU()
	defer func() { r.cpuSelf, r.cpuMachine = cpuPercent(before, sampleCPU()) }()
	mode := "latency"
	if r.cfg.Max {
		mode = "throughput"
	}
	r.cfg.Logger.Info("measuring", "mode", mode, "duration", r.cfg.Duration.String(), "rate", r.cfg.Rate)
	t0 := time.Now()
	end := t0.Add(r.cfg.Duration)
	var wg sync.WaitGroup
	n := len(r.writers)
	interval := time.Duration(float64(time.Second) * float64(n) / max(r.cfg.Rate, 1e-9))
	for i, w := range r.writers {
		wg.Go(func() {
			var err error
			if r.cfg.Max {
				err = w.flood(ctx, end)
			} else {
				err = w.pace(ctx, t0.Add(interval*time.Duration(i)/time.Duration(n)), interval, end)
			}
			if err != nil { // the connection is lost: the report lists it
				r.cfg.Logger.Warn("writer stopped", "writer", i, "err", err)
			}
		})
	}
	timer := time.NewTimer(time.Until(end))
	select {
	case <-timer.C:
	case <-ctx.Done():
		timer.Stop()
		interrupted = true
	}
	window = time.Since(t0)
	for _, w := range r.writers {
		w.closeWindow()
	}
	for _, rd := range r.readers {
		rd.closeWindow()
	}
	wg.Wait()
	return window, interrupted
}

// settle waits for the answers to every send, then for every reader to
// hold every accepted change, not waiting on connections that were lost;
// it reports whether all of it happened before ctx ended.
func (r *run) settle(ctx context.Context) bool {
	if poll(ctx, func() bool {
		for _, w := range r.writers {
			if !w.settled() && w.conn.lost() == nil {
				return false
			}
		}
		return true
	}) != nil {
		r.cfg.Logger.Warn("some changes were never answered")
		return false
	}
	highest := make([]uint64, len(r.writers))
	for i, w := range r.writers {
		w.mu.Lock()
		highest[i] = w.mu.accepted.highest
		w.mu.Unlock()
	}
	if poll(ctx, func() bool {
		for _, rd := range r.readers {
			if !rd.caughtUp(highest) && rd.conn.lost() == nil {
				return false
			}
		}
		return true
	}) != nil {
		r.cfg.Logger.Warn("readers did not catch up")
		return false
	}
	return len(r.lost()) == 0
}

func (r *run) close() {
	for _, w := range r.conns {
		w.close()
	}
}

// poll checks cond every millisecond until it holds or ctx ends.
func poll(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// loadAverage returns the one-minute load average of the machine, or 0
// where /proc/loadavg is missing.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _, _ := strings.Cut(string(b), " ")
	v, _ := strconv.ParseFloat(f, 64)
	return v
}
