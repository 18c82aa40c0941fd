// Package cluster connects a Shoal process to NATS JetStream, embedded or
// external, and provides the replicated pieces built on it: the ordered,
// durable change log of every shared object (ObjectLog) and the per-node
// presence of shared-object clients (Presence).
//
// Lifecycle:
//
//	New (validate) ──▶ Start (embedded server?, connect, create streams) ──▶ Run (blocks; background loops)
//	                                                                            │ ctx done
//	                                                                            ▼
//	                                                         drain connection, stop embedded server
//
// The embedded server is an ordinary nats-server started first; the client
// code path is the same for embedded and external NATS (the embedded one is
// reached through nats.InProcessServer).
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Config configures a Cluster. The zero value of every optional field picks
// the default named in its comment.
type Config struct {
	// URL lists external NATS server URLs, comma separated. Empty means the
	// embedded server configured by Embedded.
	URL string
	// Embedded configures the embedded server used when URL is empty.
	Embedded EmbeddedConfig

	// Credentials is a NATS credentials (.creds) file.
	Credentials string
	// NKeySeedFile is a file holding an NKey seed used to authenticate.
	NKeySeedFile string
	// User and Password, or Token, authenticate to an external server. In
	// embedded mode, when Embedded sets neither, they also become the
	// embedded server's required credentials.
	User, Password string
	Token          string
	// CAFile, CertFile and KeyFile configure TLS to an external server.
	CAFile, CertFile, KeyFile string

	// Name is the connection name, normally the node id.
	Name string
	// Replicas is the replication factor of streams and the presence bucket:
	// 1 (default) for one server, 3 on a NATS cluster.
	Replicas int
	// MaxMsgSize bounds one batch or snapshot in bytes (default 1,000,000,
	// which fits the NATS default max_payload of 1 MiB with header room).
	MaxMsgSize int32
	// PresenceTTL is how long a presence key lives without refresh (default
	// 15 s); Run refreshes every PresenceTTL/3.
	PresenceTTL time.Duration
	// AckTimeout bounds waiting for one AppendAsync acknowledgement
	// (default 5 s).
	AckTimeout time.Duration
	// MaxPendingAppends bounds unacknowledged AppendAsync calls; further
	// calls wait (default 16384).
	MaxPendingAppends int
	// ConnectTimeout bounds Start: connecting and creating streams
	// (default 30 s).
	ConnectTimeout time.Duration
}

// Defaults.
const (
	DefaultMaxMsgSize        = 1_000_000
	DefaultPresenceTTL       = 15 * time.Second
	DefaultAckTimeout        = 5 * time.Second
	DefaultMaxPendingAppends = 16384
	DefaultConnectTimeout    = 30 * time.Second
)

func (c *Config) setDefaults() {
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.MaxMsgSize == 0 {
		c.MaxMsgSize = DefaultMaxMsgSize
	}
	if c.PresenceTTL == 0 {
		c.PresenceTTL = DefaultPresenceTTL
	}
	if c.AckTimeout == 0 {
		c.AckTimeout = DefaultAckTimeout
	}
	if c.MaxPendingAppends == 0 {
		c.MaxPendingAppends = DefaultMaxPendingAppends
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.URL == "" && c.Embedded.User == "" && c.Embedded.Token == "" {
		c.Embedded.User, c.Embedded.Password, c.Embedded.Token = c.User, c.Password, c.Token
	}
	if c.URL == "" && c.MaxMsgSize > 0 && c.MaxMsgSize+headerRoom > max(c.Embedded.MaxPayload, natsDefaultMaxPayload) {
		c.Embedded.MaxPayload = c.MaxMsgSize + headerRoom
	}
}

const (
	// drainTimeout bounds draining the connection at shutdown.
	drainTimeout = 3 * time.Second
	// headerRoom is what headers may add to a message on top of MaxMsgSize.
	headerRoom = 4096
	// natsDefaultMaxPayload is the NATS server's default max_payload.
	natsDefaultMaxPayload = 1 << 20
	// maxMaxMsgSize keeps messages within NATS's largest max_payload.
	maxMaxMsgSize = 64<<20 - headerRoom
)

func (c *Config) validate() error {
	if c.URL != "" && c.Embedded.enabled() {
		return errors.New("url and embedded: set one, not both")
	}
	if c.URL == "" {
		if err := c.Embedded.validate(); err != nil {
			return err
		}
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		return fmt.Errorf("replicas: %d, want 1 to 5", c.Replicas)
	}
	if c.MaxMsgSize < 1 || c.MaxMsgSize > maxMaxMsgSize {
		return fmt.Errorf("max_msg_size: %d, want 1 to %d", c.MaxMsgSize, maxMaxMsgSize)
	}
	if c.PresenceTTL < time.Second/2 {
		return fmt.Errorf("presence_ttl: %v, want at least 500ms", c.PresenceTTL)
	}
	if c.AckTimeout < 0 || c.MaxPendingAppends < 0 || c.ConnectTimeout < 0 {
		return errors.New("ack_timeout, max_pending_appends, connect_timeout: must not be negative")
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return errors.New("cert_file and key_file: set both or neither")
	}
	return nil
}

// ErrNotStarted is returned by Run when Start has not succeeded.
var ErrNotStarted = errors.New("cluster not started")

// Cluster is one process's connection to NATS JetStream.
type Cluster struct {
	cfg    Config
	logger *slog.Logger

	// Set by Start, read-only afterwards.
	started  bool           // Start was called
	ready    bool           // Start succeeded
	srv      *server.Server // embedded server, nil with an external URL
	nc       *nats.Conn
	js       jetstream.JetStream
	objects  *ObjectLog
	presence *Presence
	closed   chan struct{} // closed by the connection's ClosedHandler

	// reconnected receives a signal after each reconnect so Run recreates
	// streams a restarted server may have lost (memory streams).
	reconnected chan struct{}
}

// New validates cfg and returns a Cluster. It starts nothing.
func New(cfg Config, logger *slog.Logger) (*Cluster, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("cluster config: %w", err)
	}
	return &Cluster{
		cfg:         cfg,
		logger:      logger,
		closed:      make(chan struct{}),
		reconnected: make(chan struct{}, 1),
	}, nil
}

// Start starts the embedded server (if configured), connects, and creates
// the streams and the presence bucket. It returns when they are usable or
// fails after ConnectTimeout or when ctx is done, having stopped whatever
// it started. It may be called once. Run must follow a successful Start; it
// owns shutdown.
func (c *Cluster) Start(ctx context.Context) (err error) {
	if c.started {
		return errors.New("start cluster: called twice")
	}
	c.started = true
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
	defer cancel()
	defer func() {
		if err != nil {
			c.shutdown()
		}
	}()
	if c.cfg.URL == "" {
		c.srv, err = StartServer(c.cfg.Embedded, c.logger.With("component", "nats_server"))
		if err != nil {
			return fmt.Errorf("start cluster: %w", err)
		}
	}
	if c.nc, err = c.connect(ctx); err != nil {
		return fmt.Errorf("start cluster: %w", err)
	}
	if limit := c.nc.MaxPayload(); int64(c.cfg.MaxMsgSize)+headerRoom > limit {
		return fmt.Errorf("start cluster: max_msg_size %d plus %d header bytes exceeds the server's max_payload %d", c.cfg.MaxMsgSize, headerRoom, limit)
	}
	if c.js, err = jetstream.New(c.nc); err != nil {
		return fmt.Errorf("start cluster: %w", err)
	}
	res, err := c.ensure(ctx)
	if err != nil {
		return fmt.Errorf("start cluster: %w", err)
	}
	if c.objects, err = newObjectLog(c.nc, c.js, res.streams, c.cfg, c.logger); err != nil {
		return fmt.Errorf("start cluster: %w", err)
	}
	c.presence = newPresence(res.kv, res.kvStream, c.cfg.PresenceTTL, c.logger)
	c.ready = true
	return nil
}

// Run blocks until ctx is done, refreshing presence keys, expiring
// unacknowledged appends and recreating streams after reconnects. Then it
// drains the connection and stops the embedded server. Call it once, after
// a successful Start.
func (c *Cluster) Run(ctx context.Context) error {
	if !c.ready {
		return ErrNotStarted
	}
	defer c.shutdown()
	var wg sync.WaitGroup
	wg.Go(func() { c.presence.run(ctx) })
	wg.Go(func() { c.objects.async.run(ctx, c.cfg.AckTimeout) })
	wg.Go(func() { c.reensure(ctx) })
	wg.Wait()
	return nil
}

// reensure recreates streams and the bucket after each reconnect (a
// restarted standalone server forgets memory streams), then has the follows
// of an object stream that restarted, or whose follow consumers are gone,
// check their logs at once (see ObjectLog.resyncReason). After an ordinary network blip nothing
// restarted and the follows keep their consumers: with thousands of
// objects, recreating them all would be a burst of requests for nothing.
// The stream infos are those ensure fetched.
func (c *Cluster) reensure(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.reconnected:
		}
		res, err := c.ensure(ctx)
		if err != nil {
			return // ensure retries until ctx is done
		}
		var resynced []string
		for _, name := range []string{PersistentStream, TransientStream} {
			why := c.objects.resyncReason(ctx, res.streams[name].CachedInfo())
			if why == "" {
				continue
			}
			c.logger.Info("follows of object stream check their logs after reconnect", "stream", name, "reason", why)
			c.objects.Resync(name)
			resynced = append(resynced, name)
		}
		c.logger.Debug("object streams checked after reconnect", "resynced", resynced)
	}
}

// shutdown drains the connection and stops the embedded server.
func (c *Cluster) shutdown() {
	if c.objects != nil {
		c.objects.async.close(2 * time.Second)
	}
	if c.nc != nil {
		if err := c.nc.Drain(); err != nil {
			c.nc.Close()
		}
		select {
		case <-c.closed:
		case <-time.After(drainTimeout + time.Second):
			c.nc.Close()
		}
	}
	if c.objects != nil {
		c.objects.async.failAll(ErrClosed)
	}
	if c.srv != nil {
		c.srv.Shutdown()
		c.srv.WaitForShutdown()
		c.logger.Info("nats server stopped")
	}
}

// ClientURL returns the embedded server's client URL, for other processes
// to connect to, or "" for an external server or an embedded server that
// does not listen.
func (c *Cluster) ClientURL() string { return clientURL(c.srv) }

// Server returns the embedded server, or nil.
func (c *Cluster) Server() *server.Server { return c.srv }

// ObjectLog returns the shared-object change log. Valid after Start.
func (c *Cluster) ObjectLog() *ObjectLog { return c.objects }

// Presence returns the shared-object presence registry. Valid after Start.
func (c *Cluster) Presence() *Presence { return c.presence }

// Conn returns the NATS connection. Valid after Start.
func (c *Cluster) Conn() *nats.Conn { return c.nc }

// JetStream returns the JetStream context. Valid after Start.
func (c *Cluster) JetStream() jetstream.JetStream { return c.js }

// connect dials NATS, retrying with backoff until ctx is done. Later
// disconnects are retried forever by the client library.
func (c *Cluster) connect(ctx context.Context) (*nats.Conn, error) {
	opts, err := c.natsOptions()
	if err != nil {
		return nil, err
	}
	url := c.cfg.URL
	if url == "" {
		url = "nats://in-process"
	}
	for attempt := 0; ; attempt++ {
		nc, err := nats.Connect(url, opts...)
		if err == nil {
			c.logger.Info("nats connected", "url", nc.ConnectedUrlRedacted(), "server", nc.ConnectedServerName())
			return nc, nil
		}
		if attempt == 0 {
			c.logger.Warn("nats connect failed, retrying", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connect to nats: %w (last error: %w)", ctx.Err(), err)
		case <-time.After(backoff(attempt)):
		}
	}
}

func (c *Cluster) natsOptions() ([]nats.Option, error) {
	log := c.logger
	opts := []nats.Option{
		nats.Name(c.cfg.Name),
		nats.MaxReconnects(-1),
		nats.CustomReconnectDelay(backoff),
		// Bounds the library's drain goroutine, which shutdown waits for.
		nats.DrainTimeout(drainTimeout),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "error", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted(), "server", nc.ConnectedServerName())
			select {
			case c.reconnected <- struct{}{}:
			default:
			}
		}),
		nats.ClosedHandler(func(*nats.Conn) {
			log.Debug("nats connection closed")
			close(c.closed)
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if sub != nil {
				log.Warn("nats async error", "error", err, "subject", sub.Subject)
				return
			}
			log.Warn("nats async error", "error", err)
		}),
	}
	if c.cfg.URL == "" {
		e := c.cfg.Embedded
		opts = append(opts, nats.InProcessServer(c.srv))
		switch {
		case e.Token != "":
			opts = append(opts, nats.Token(e.Token))
		case e.User != "":
			opts = append(opts, nats.UserInfo(e.User, e.Password))
		}
		return opts, nil
	}
	if c.cfg.Credentials != "" {
		opts = append(opts, nats.UserCredentials(c.cfg.Credentials))
	}
	if c.cfg.NKeySeedFile != "" {
		o, err := nats.NkeyOptionFromSeed(c.cfg.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("read nkey seed %q: %w", c.cfg.NKeySeedFile, err)
		}
		opts = append(opts, o)
	}
	if c.cfg.User != "" {
		opts = append(opts, nats.UserInfo(c.cfg.User, c.cfg.Password))
	}
	if c.cfg.Token != "" {
		opts = append(opts, nats.Token(c.cfg.Token))
	}
	if c.cfg.CAFile != "" {
		opts = append(opts, nats.RootCAs(c.cfg.CAFile))
	}
	if c.cfg.CertFile != "" {
		opts = append(opts, nats.ClientCert(c.cfg.CertFile, c.cfg.KeyFile))
	}
	return opts, nil
}

// backoff returns the wait before reconnect attempt n: exponential from
// 100 ms to 5 s, with ±20 % jitter.
func backoff(attempt int) time.Duration {
	d := 100 * time.Millisecond
	for i := 0; i < attempt && d < 5*time.Second; i++ {
		d *= 2
	}
	d = min(d, 5*time.Second)
	return d - d/5 + rand.N(2*d/5+1)
}
