package rtmp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoal-live/shoal/internal/rtmp/chunk"
)

// Defaults for the zero fields of a Server.
const (
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultReadTimeout      = 60 * time.Second
	DefaultWriteTimeout     = 15 * time.Second
	DefaultChunkSize        = 4096
	DefaultWindowAckSize    = 2500000
	// DefaultSendQueueBytes is the default Server.SendQueueBytes.
	DefaultSendQueueBytes = 8 << 20
)

// Server accepts RTMP connections and runs their sessions. Set the fields,
// then call Run (and Listen first to learn the address of port 0). Fields
// must not change after Listen or Run.
type Server struct {
	// Addr is the TCP address to listen on, ":1935" if empty.
	Addr string
	// Handler decides on connects, publishes, plays and shared objects.
	Handler Handler
	// Logger receives connection events; a discarding logger if nil.
	Logger *slog.Logger

	// HandshakeTimeout bounds the handshake (DefaultHandshakeTimeout).
	HandshakeTimeout time.Duration
	// ReadTimeout is how long a connection may send nothing; after half of
	// it the server sends a ping request (DefaultReadTimeout).
	ReadTimeout time.Duration
	// WriteTimeout bounds the writes to a connection (DefaultWriteTimeout).
	// The deadline is renewed only when less than half of it is left, so a
	// blocked write fails after between WriteTimeout/2 and WriteTimeout.
	WriteTimeout time.Duration
	// WriteMerge is how long a play loop lets packets collect after each
	// write before it writes them together: one vectored write then carries
	// several packets, which costs far less CPU than one write per packet.
	// A packet that arrives when nothing was written for WriteMerge goes
	// out at once, so an idle stream's first packet is not delayed; a busy
	// stream's packets wait up to WriteMerge. 0 writes every packet as soon
	// as it is read. Handler.Play may change it per stream with
	// ServerStream.SetWriteMerge (an edge's relay pull, say).
	WriteMerge time.Duration
	// SendQueueBytes bounds the shared-object messages a connection holds
	// for its client, waiting and being written, counting each as its
	// body plus 64 bytes (DefaultSendQueueBytes). A connection that would
	// exceed it is closed (ErrSendQueueFull). Shared objects are small and
	// bursty: applying a backlog queues thousands of messages at once for a
	// client that reads them all within milliseconds.
	SendQueueBytes int
	// ChunkSize is the outgoing chunk size (DefaultChunkSize).
	ChunkSize uint32
	// WindowAckSize is the acknowledgement window announced to clients
	// (DefaultWindowAckSize).
	WindowAckSize uint32
	// Limits bound what clients may send; zero fields take
	// chunk.DefaultLimits.
	Limits chunk.Limits
	// MaxConns limits concurrent connections; 0 means no limit.
	MaxConns int

	mu struct {
		sync.Mutex
		ln net.Listener // set by Listen
	}
	idPrefix string
	stats    serverCounters
}

// serverCounters are the atomic counters behind Stats.
type serverCounters struct {
	conns    atomic.Int64
	accepted atomic.Uint64
	rejected atomic.Uint64
	bytesIn  atomic.Uint64
	bytesOut atomic.Uint64
}

// ServerStats are a Server's counters.
type ServerStats struct {
	Conns    int64  // open connections
	Accepted uint64 // connections accepted since start
	Rejected uint64 // connections refused because of MaxConns
	BytesIn  uint64 // bytes read from all connections
	BytesOut uint64 // bytes written to all connections
}

// Stats returns the server's counters.
func (s *Server) Stats() ServerStats {
	return ServerStats{
		Conns:    s.stats.conns.Load(),
		Accepted: s.stats.accepted.Load(),
		Rejected: s.stats.rejected.Load(),
		BytesIn:  s.stats.bytesIn.Load(),
		BytesOut: s.stats.bytesOut.Load(),
	}
}

// Listen opens the listening socket, so that Addr ":0" reports the real
// address before Run. Run calls it if it was not called.
func (s *Server) Listen() (net.Addr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.ln != nil {
		return s.mu.ln.Addr(), nil
	}
	addr := s.Addr
	if addr == "" {
		addr = ":1935"
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("rtmp: listen on %s: %w", addr, err)
	}
	s.mu.ln = ln
	return ln.Addr(), nil
}

// Run accepts connections until ctx is done, then closes every connection
// and returns after all of them have ended.
func (s *Server) Run(ctx context.Context) error {
	if s.Handler == nil {
		return errors.New("rtmp: server has no handler")
	}
	if _, err := s.Listen(); err != nil {
		return err
	}
	s.mu.Lock()
	ln := s.mu.ln
	s.mu.Unlock()
	logger := s.logger()
	cfg := s.connConfig()
	var prefix [4]byte
	_, _ = rand.Read(prefix[:])
	s.idPrefix = hex.EncodeToString(prefix[:])

	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	logger.Info("rtmp server listening", "addr", ln.Addr().String())

	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				logger.Warn("accept failed, retrying", "error", err, "delay", delay)
				select {
				case <-time.After(delay):
				case <-ctx.Done():
					return nil
				}
				continue
			}
			_ = ln.Close()
			return fmt.Errorf("rtmp: accept: %w", err)
		}
		delay = 0
		if s.MaxConns > 0 && s.stats.conns.Load() >= int64(s.MaxConns) {
			s.stats.rejected.Add(1)
			logger.Warn("connection refused", "remote_addr", nc.RemoteAddr().String(), "reason", "too many connections", "max_conns", s.MaxConns)
			_ = nc.Close()
			continue
		}
		n := s.stats.accepted.Add(1)
		s.stats.conns.Add(1)
		id := s.idPrefix + "-" + strconv.FormatUint(n, 10)
		c := newServerConn(nc, id, cfg, s.Handler, &s.stats, logger)
		wg.Go(func() {
			defer s.stats.conns.Add(-1)
			c.serve(ctx)
		})
	}
}

// isTemporary reports accept errors worth retrying (out of file
// descriptors and the like).
func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// logger returns the configured logger or a discarding one.
func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// connConfig is the per-connection configuration, defaults applied.
type connConfig struct {
	handshakeTimeout time.Duration
	readTimeout      time.Duration
	writeTimeout     time.Duration
	writeMerge       time.Duration
	sendQueueBytes   int
	chunkSize        uint32
	windowAckSize    uint32
	limits           chunk.Limits
}

// connConfig returns the server's settings with defaults applied.
func (s *Server) connConfig() connConfig {
	c := connConfig{
		handshakeTimeout: s.HandshakeTimeout,
		readTimeout:      s.ReadTimeout,
		writeTimeout:     s.WriteTimeout,
		writeMerge:       max(s.WriteMerge, 0),
		sendQueueBytes:   s.SendQueueBytes,
		chunkSize:        s.ChunkSize,
		windowAckSize:    s.WindowAckSize,
		limits:           s.Limits,
	}
	if c.handshakeTimeout <= 0 {
		c.handshakeTimeout = DefaultHandshakeTimeout
	}
	if c.readTimeout <= 0 {
		c.readTimeout = DefaultReadTimeout
	}
	if c.writeTimeout <= 0 {
		c.writeTimeout = DefaultWriteTimeout
	}
	if c.sendQueueBytes <= 0 {
		c.sendQueueBytes = DefaultSendQueueBytes
	}
	if c.chunkSize == 0 {
		c.chunkSize = DefaultChunkSize
	}
	c.chunkSize = min(c.chunkSize, chunk.MaxChunkSize)
	if c.windowAckSize == 0 {
		c.windowAckSize = DefaultWindowAckSize
	}
	return c
}
