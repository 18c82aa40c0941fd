// Package mediaserver wires one media node: the RTMP server, live streams,
// shared objects, the cluster connection, the node agent and the HTTP
// endpoints. It is the only package of shoal-node that imports the others.
package mediaserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/shoal-live/shoal/internal/agent"
	"github.com/shoal-live/shoal/internal/cluster"
	"github.com/shoal-live/shoal/internal/config"
	"github.com/shoal-live/shoal/internal/relay"
	"github.com/shoal-live/shoal/internal/rtmp"
	"github.com/shoal-live/shoal/internal/rtmp/chunk"
	"github.com/shoal-live/shoal/internal/sharedobject"
	"github.com/shoal-live/shoal/internal/sharedobject/jetlog"
	"github.com/shoal-live/shoal/internal/sharedobject/rtmpface"
	"github.com/shoal-live/shoal/internal/sharedobject/wsface"
	"github.com/shoal-live/shoal/internal/stream"
)

// Server is one media node.
type Server struct {
	cfg     config.Node
	logger  *slog.Logger
	streams *stream.Registry
	handler *rtmpHandler
	rtmp    *rtmp.Server
	http    *http.Server
	cluster *cluster.Cluster
	started time.Time

	idGenerated bool          // node.id was empty: the manager adopts the node
	locator     originLocator // where the relay finds origins; nil: the agent (tests set it before Run)

	// Set by Run before any listener serves; read-only afterwards.
	objects *sharedobject.Manager
	ws      *wsface.Handler
	agent   *agent.Agent // nil without manager.url
	relay   *relay.Relay // nil unless an edge with an origin locator

	rtmpAddr atomic.Pointer[net.TCPAddr]
	httpAddr atomic.Pointer[net.TCPAddr]
	ready    chan struct{}
}

// New validates cfg and builds the node's components without starting
// anything.
func New(cfg config.Node, logger *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	idGenerated := cfg.Node.ID == ""
	if idGenerated {
		cfg.Node.ID = generateNodeID()
	}
	logger = logger.With("node_id", cfg.Node.ID)
	s := &Server{cfg: cfg, logger: logger, idGenerated: idGenerated, ready: make(chan struct{})}
	s.streams = stream.NewRegistry(stream.Config{
		QueuePackets:   cfg.Stream.QueuePackets,
		QueueBytes:     cfg.Stream.QueueBytes,
		GOPCacheMax:    cfg.Stream.GOPCacheBytes,
		PublisherGrace: cfg.Stream.PublisherGrace,
	}, logger.With("component", "stream"))
	h := &rtmpHandler{streams: s.streams, logger: logger}
	s.handler = h
	s.rtmp = &rtmp.Server{
		Addr:             cfg.RTMP.Addr,
		Handler:          h,
		Logger:           logger.With("component", "rtmp"),
		HandshakeTimeout: cfg.RTMP.HandshakeTimeout,
		ReadTimeout:      cfg.RTMP.IdleTimeout,
		WriteTimeout:     cfg.RTMP.WriteTimeout,
		WriteMerge:       cfg.Stream.WriteMerge,
		SendQueueBytes:   cfg.SharedObjects.SendQueueBytes,
		ChunkSize:        cfg.RTMP.ChunkSize,
		MaxConns:         cfg.RTMP.MaxConns,
		Limits:           chunk.Limits{MaxMessageSize: cfg.RTMP.MaxMessageSize, MaxChunkStreams: chunk.DefaultLimits.MaxChunkStreams},
	}
	s.http = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	if err := soPolicy(cfg.SharedObjects.Policy).Validate(); err != nil {
		return nil, fmt.Errorf("shared_objects.policy: %w", err)
	}
	cl, err := cluster.New(clusterConfig(cfg), logger.With("component", "cluster"))
	if err != nil {
		return nil, err
	}
	s.cluster = cl
	return s, nil
}

func clusterConfig(cfg config.Node) cluster.Config {
	c := cluster.Config{
		URL:         cfg.Cluster.NATSURL,
		Credentials: cfg.Cluster.Credentials,
		User:        cfg.Cluster.User,
		Password:    cfg.Cluster.Password,
		Token:       cfg.Cluster.Token,
		CAFile:      cfg.Cluster.TLSCA,
		CertFile:    cfg.Cluster.TLSCert,
		KeyFile:     cfg.Cluster.TLSKey,
		Name:        cfg.Node.ID,
		Replicas:    cfg.Cluster.Replicas,
		PresenceTTL: cfg.Cluster.PresenceTTL,
	}
	if c.URL == "" {
		c.Embedded = cluster.EmbeddedConfig{
			Listen:     cfg.Cluster.EmbeddedAddr,
			StoreDir:   filepath.Join(cfg.Node.DataDir, "nats"),
			ServerName: cfg.Node.ID,
		}
	}
	return c
}

func generateNodeID() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "node"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("node-%s-%s", host, hex.EncodeToString(b[:]))
}

// newJanitor returns the sweep that drops transient shared objects whose
// last node died, sparing the objects this node has loaded.
func (s *Server) newJanitor() *cluster.Janitor {
	linger := s.cfg.SharedObjects.Linger
	if linger == 0 {
		linger = sharedobject.DefaultLinger
	}
	return cluster.NewJanitor(s.cluster, cluster.JanitorConfig{
		Linger: linger,
		Loaded: func() []cluster.ObjectID {
			ids := s.objects.Loaded()
			out := make([]cluster.ObjectID, len(ids))
			for i, id := range ids {
				out[i] = cluster.ObjectID{Scope: id.Scope, Name: id.Name, Persistent: id.Persistent}
			}
			return out
		},
	}, s.logger.With("component", "sharedobject_janitor"))
}

// Run starts listening, serves until ctx is done, and returns after every
// component has stopped.
func (s *Server) Run(ctx context.Context) error {
	s.started = time.Now()
	if err := s.cluster.Start(ctx); err != nil {
		return err
	}
	s.objects = sharedobject.New(sharedobject.Config{
		NodeID:         s.cfg.Node.ID,
		Linger:         s.cfg.SharedObjects.Linger,
		SnapshotEvery:  s.cfg.SharedObjects.SnapshotEvery,
		MaxAttributes:  s.cfg.SharedObjects.MaxAttributes,
		MaxValueBytes:  s.cfg.SharedObjects.MaxValueBytes,
		MaxObjectBytes: s.cfg.SharedObjects.MaxObjectBytes,
		Policy:         soPolicy(s.cfg.SharedObjects.Policy),
	}, jetlog.NewLog(s.cluster.ObjectLog()), jetlog.NewPresence(s.cluster.Presence()), s.logger.With("component", "sharedobject"))
	s.handler.so = rtmpface.New(ctx, s.objects, s.logger.With("component", "sharedobject_rtmp"))
	s.ws = wsface.New(s.objects, s.logger.With("component", "sharedobject_ws"))
	s.ws.QueueBytes = s.cfg.SharedObjects.SendQueueBytes
	if s.cfg.Cluster.NATSURL == "" && s.cfg.Cluster.EmbeddedAddr != "" {
		s.logger.Info("embedded nats listening", "nats_url", s.cluster.ClientURL())
	}

	rtmpAddr, err := s.rtmp.Listen()
	if err != nil {
		return fmt.Errorf("rtmp listen on %s: %w", s.cfg.RTMP.Addr, err)
	}
	s.rtmpAddr.Store(rtmpAddr.(*net.TCPAddr))
	httpLn, err := new(net.ListenConfig).Listen(ctx, "tcp", s.cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("http listen on %s: %w", s.cfg.HTTP.Addr, err)
	}
	s.httpAddr.Store(httpLn.Addr().(*net.TCPAddr))
	s.startManagerLink(rtmpAddr.(*net.TCPAddr), httpLn.Addr().(*net.TCPAddr))
	s.logger.Info("node started", "rtmp_addr", rtmpAddr.String(), "http_addr", httpLn.Addr().String(),
		"role", s.cfg.Node.Role, "manager_url", s.cfg.Manager.URL, "relay", s.relay != nil)
	close(s.ready)

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.cluster.Run(ctx) })
	if s.agent != nil {
		g.Go(func() error { return s.agent.Run(ctx) })
	}
	if s.relay != nil {
		g.Go(func() error { return s.relay.Run(ctx) })
	}
	g.Go(func() error { return s.objects.Run(ctx) })
	g.Go(func() error { return s.newJanitor().Run(ctx) })
	g.Go(func() error { return s.rtmp.Run(ctx) })
	g.Go(func() error {
		stop := context.AfterFunc(ctx, func() {
			shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = s.http.Shutdown(shutdownCtx)
		})
		defer stop()
		if err := s.http.Serve(httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http: %w", err)
		}
		return nil
	})
	err = g.Wait()
	s.logger.Info("node stopped")
	return err
}

// Ready is closed once the node listens on its addresses.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// RTMPAddr is the RTMP listen address, valid after Ready.
func (s *Server) RTMPAddr() *net.TCPAddr { return s.rtmpAddr.Load() }

// HTTPAddr is the HTTP listen address, valid after Ready.
func (s *Server) HTTPAddr() *net.TCPAddr { return s.httpAddr.Load() }
