package rtmp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/shoal-live/shoal/internal/rtmp/amf"
	"github.com/shoal-live/shoal/internal/rtmp/chunk"
	"github.com/shoal-live/shoal/internal/rtmp/handshake"
	"github.com/shoal-live/shoal/internal/rtmp/message"
)

// soMsgOverhead is what each queued shared-object message counts against
// the send queue's bound besides its body: its chunk header and the queue
// slot, so that many empty messages cannot pile up unbounded.
const soMsgOverhead = 64

// maxSOBody bounds a shared-object body: with the AMF3 encoding byte it
// must fit the 24-bit message length.
const maxSOBody = 0xFFFFFF

// maxStreamsPerConn bounds createStream per connection.
const maxStreamsPerConn = 64

// Chunk stream ids of the messages a connection sends. Commands and shared
// objects go on message.ChunkStreamCommand (3). Media written as pre-encoded
// full messages use their own chunk streams, so their raw writes never
// disturb the header compression of the command chunk streams.
const (
	csidStatus = 5 // onStatus and other NetStream commands
	csidData   = 5 // |RtmpSampleAccess
	csidAudio  = 6
	csidVideo  = 7
	csidMeta   = 8 // data packets of a played stream (onMetaData)
)

// rawCSIDs are the chunk streams play writes pre-encoded messages on.
var rawCSIDs = []uint32{csidAudio, csidVideo, csidMeta}

// ErrSendQueueFull is returned by SendSharedObject when the connection's
// outgoing queue holds Server.SendQueueBytes; the connection is closed.
var ErrSendQueueFull = errors.New("send queue full")

// errClosedByServer is the close reason of ServerConn.Close.
var errClosedByServer = errors.New("closed by server")

// errRejected ends a connection whose connect the handler rejected.
var errRejected = errors.New("connect rejected")

// ServerConn is one client connection of a Server: it reads commands, media
// and shared-object messages on its own goroutine and writes replies, played
// media and shared-object messages under one write lock.
//
// The connect fields (App, TCURL, ObjectEncoding, ...) are set before
// Handler.Connect is called and never change afterwards.
type ServerConn struct {
	id      string
	nc      net.Conn
	cfg     connConfig
	handler Handler
	stats   *serverCounters
	logger  *slog.Logger
	start   time.Time
	done    chan struct{} // closed when shutdown begins

	// Set by connect, read-only afterwards.
	connected      bool
	app            string
	scopePath      string
	query          string
	tcURL          string
	objectEncoding float64
	connectObject  amf.Object
	connectArgs    []any
	chunkSize      uint32 // outgoing chunk size after connect

	// Owned by the read goroutine.
	rio       connIO
	r         *chunk.Reader
	streams   map[uint32]*ServerStream
	nextSID   uint32
	ackWindow uint32 // the peer's window: acknowledge every ackWindow bytes
	lastAck   uint64

	// wmu serialises writes: the read goroutine's replies, play loops and
	// the shared-object sender.
	wmu  sync.Mutex
	w    *chunk.Writer // header compression state of the command chunk streams
	wbuf []byte
	iov  net.Buffers // see writeRaw
	// wdeadline is the write deadline set on nc, renewed by
	// refreshWriteDeadline when less than half of the timeout is left.
	wdeadline time.Time

	// closeMu guards closing, closeErr and the start of goroutines (play
	// loops, the sender), so that none starts after shutdown began waiting.
	closeMu  sync.Mutex
	closing  bool
	closeErr error
	sending  bool          // the sender goroutine runs
	soWake   chan struct{} // wakes the sender (capacity 1); set with sending
	wg       sync.WaitGroup
	closeNet sync.Once

	// soMu guards the shared-object send queue: soq are bodies waiting for
	// the sender, soBytes what they and the ones being written count
	// against cfg.sendQueueBytes.
	soMu    sync.Mutex
	soq     [][]byte
	soBytes int
}

func newServerConn(nc net.Conn, id string, cfg connConfig, h Handler, stats *serverCounters, logger *slog.Logger) *ServerConn {
	c := &ServerConn{
		id:        id,
		nc:        nc,
		cfg:       cfg,
		handler:   h,
		stats:     stats,
		start:     time.Now(),
		logger:    logger.With("conn_id", id, "remote_addr", nc.RemoteAddr().String()),
		streams:   make(map[uint32]*ServerStream),
		ackWindow: DefaultWindowAckSize,
		w:         chunk.NewWriter(nc),
		done:      make(chan struct{}),
	}
	c.rio = connIO{nc: nc, in: &stats.bytesIn, out: &stats.bytesOut, ping: c.ping}
	c.r = chunk.NewReader(&c.rio, cfg.limits)
	return c
}

// ID returns the connection's id, unique within the server's lifetime.
func (c *ServerConn) ID() string { return c.id }

// RemoteAddr returns the client's address.
func (c *ServerConn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// App returns the first segment of the connect command's app ("live" for
// app "live/room").
func (c *ServerConn) App() string { return c.app }

// ScopePath returns the normalised app of the connect command, without
// query string: the scope the connection's shared objects live in.
func (c *ServerConn) ScopePath() string { return c.scopePath }

// Query returns the query string of the connect app or tcUrl (without the
// '?'), e.g. "token=abc".
func (c *ServerConn) Query() string { return c.query }

// TCURL returns the tcUrl of the connect command.
func (c *ServerConn) TCURL() string { return c.tcURL }

// ObjectEncoding returns 3 if the client connected with AMF3 object
// encoding, 0 otherwise. AMF3 connections get commands as type 17 and
// shared objects as type 16.
func (c *ServerConn) ObjectEncoding() float64 { return c.objectEncoding }

// ConnectObject returns the command object of the connect command.
func (c *ServerConn) ConnectObject() amf.Object { return c.connectObject }

// ConnectArgs returns the optional arguments after the connect command
// object (Red5 applications read connection parameters there).
func (c *ServerConn) ConnectArgs() []any { return c.connectArgs }

// Logger returns the connection's logger (with conn_id and remote_addr).
func (c *ServerConn) Logger() *slog.Logger { return c.logger }

// Close closes the connection. The server then closes its publishers and
// sources and calls Handler.Disconnect. Close may be called from any
// goroutine, any number of times.
func (c *ServerConn) Close() error {
	c.fail(errClosedByServer)
	return nil
}

// fail records why the connection ends (the first reason wins) and closes
// the socket, which ends the read loop.
func (c *ServerConn) fail(err error) {
	c.closeMu.Lock()
	if c.closeErr == nil {
		c.closeErr = err
	}
	c.closeMu.Unlock()
	c.closeNet.Do(func() { _ = c.nc.Close() })
}

// goOwned starts f on a goroutine the connection waits for, unless the
// connection is shutting down.
func (c *ServerConn) goOwned(f func()) bool {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	if c.closing {
		return false
	}
	c.wg.Go(f)
	return true
}

// serve runs the connection until it ends, then cleans up and logs why.
func (c *ServerConn) serve(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { c.fail(context.Cause(ctx)) })
	defer stop()
	c.logger.Debug("connection accepted")

	err := c.run(ctx)
	c.fail(err)
	cancel()
	c.shutdown()
	c.logClose()
}

// shutdown stops the play loops and the sender, closes publishers and
// sources, and tells the handler.
func (c *ServerConn) shutdown() {
	c.closeMu.Lock()
	c.closing = true
	c.closeMu.Unlock()
	close(c.done)
	for _, st := range c.streams {
		st.stop()
	}
	c.wg.Wait()
	if c.connected {
		c.handler.Disconnect(c)
	}
}

// logClose logs the end of the connection once: Info for ordinary ends,
// Warn for bad input and server-side failures.
func (c *ServerConn) logClose() {
	c.closeMu.Lock()
	err := c.closeErr
	c.closeMu.Unlock()
	attrs := []any{"duration", time.Since(c.start).Round(time.Millisecond)}
	switch {
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, context.Canceled), errors.Is(err, net.ErrClosed),
		errors.Is(err, errClosedByServer):
		c.logger.Info("connection closed", attrs...)
	case errors.Is(err, errRejected):
		c.logger.Info("connection closed", append(attrs, "reason", err.Error())...)
	case isNetError(err):
		c.logger.Info("connection closed", append(attrs, "reason", err.Error())...)
	default:
		c.logger.Warn("connection closed", append(attrs, "reason", err.Error())...)
	}
}

// isNetError reports errors of the network rather than of the peer's
// protocol: resets, timeouts.
func isNetError(err error) bool {
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &ne) || errors.As(err, &oe) || errors.Is(err, io.ErrUnexpectedEOF)
}

// run does the handshake and reads messages until an error.
func (c *ServerConn) run(ctx context.Context) error {
	_ = c.nc.SetDeadline(time.Now().Add(c.cfg.handshakeTimeout))
	if err := handshake.Server(&c.rio); err != nil {
		return err // already names the handshake
	}
	_ = c.nc.SetDeadline(time.Time{})
	c.rio.idle = c.cfg.readTimeout
	c.logger.Debug("handshake done")

	var m chunk.Message
	for {
		if err := c.r.ReadInto(&m); err != nil {
			return err
		}
		if err := c.handle(ctx, &m); err != nil {
			return err
		}
		if err := c.maybeAck(); err != nil {
			return err
		}
	}
}

// maybeAck sends an Acknowledgement when a window of bytes has arrived
// since the last one.
func (c *ServerConn) maybeAck() error {
	n := c.r.BytesRead()
	if c.ackWindow == 0 || n-c.lastAck < uint64(c.ackWindow) {
		return nil
	}
	c.lastAck = n
	return c.writeMessages(&message.Acknowledgement{SequenceNumber: uint32(n)})
}

// handle dispatches one message.
func (c *ServerConn) handle(ctx context.Context, m *chunk.Message) error {
	switch m.TypeID {
	case message.TypeAudio, message.TypeVideo, message.TypeDataAMF0, message.TypeDataAMF3:
		c.onMedia(m.StreamID, m.TypeID, m.Timestamp, m.Body)
		return nil
	case message.TypeAggregate:
		return splitAggregate(m.Body, m.Timestamp, func(typeID uint8, ts uint32, payload []byte) {
			if isMediaType(typeID) {
				c.onMedia(m.StreamID, typeID, ts, payload)
			}
		})
	}
	msg, err := message.Decode(m)
	if err != nil {
		return err
	}
	switch msg := msg.(type) {
	case *message.SetChunkSize:
		return c.r.SetChunkSize(msg.Size)
	case *message.Abort:
		c.r.Abort(msg.ChunkStreamID)
	case *message.WindowAckSize:
		c.ackWindow = msg.Size
	case *message.UserControl:
		if msg.Event == message.UserControlPingRequest {
			return c.writeMessages(&message.UserControl{Event: message.UserControlPingResponse, Timestamp: msg.Timestamp})
		}
	case *message.CommandAMF0:
		return c.onCommand(ctx, command{csid: m.ChunkStreamID, streamID: m.StreamID, name: msg.Name, txid: msg.TransactionID, obj: msg.Object, args: msg.Args})
	case *message.CommandAMF3:
		return c.onCommand(ctx, command{csid: m.ChunkStreamID, streamID: m.StreamID, name: msg.Name, txid: msg.TransactionID, obj: msg.Object, args: msg.Args})
	case *message.SharedObject:
		if !c.connected {
			return errors.New("shared object message before connect")
		}
		c.handler.SharedObject(c, msg)
	default:
		// Acknowledgement, SetPeerBandwidth, unknown types: nothing to do.
	}
	return nil
}

// ping sends a ping request to a connection that has been quiet.
func (c *ServerConn) ping() error {
	ts := uint32(time.Since(c.start).Milliseconds())
	return c.writeMessages(&message.UserControl{Event: message.UserControlPingRequest, Timestamp: ts})
}

// writeMessages encodes msgs and sends them in one write. A SetChunkSize
// among them changes the outgoing chunk size for the messages after it.
func (c *ServerConn) writeMessages(msgs ...message.Message) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf = c.wbuf[:0]
	var newSize uint32
	for _, msg := range msgs {
		cm, err := message.Encode(msg)
		if err != nil {
			return fmt.Errorf("encode %T: %w", msg, err)
		}
		if err := cm.Validate(); err != nil {
			return err
		}
		c.wbuf = c.w.AppendMessage(c.wbuf, cm)
		if s, ok := msg.(*message.SetChunkSize); ok {
			newSize = s.Size
			c.w.SetChunkSize(s.Size)
		}
	}
	err := c.writeLocked(c.wbuf)
	if cap(c.wbuf) > 64<<10 {
		c.wbuf = nil
	}
	if newSize != 0 {
		c.chunkSize = newSize
	}
	return err
}

// refreshWriteDeadline renews the write deadline when less than half of
// the write timeout is left, so that a fast stream of writes does not set
// it (a timer update in the runtime) once per write; c.wmu is held.
func (c *ServerConn) refreshWriteDeadline(now time.Time) {
	if c.wdeadline.Sub(now) >= c.cfg.writeTimeout/2 {
		return
	}
	c.wdeadline = now.Add(c.cfg.writeTimeout)
	_ = c.nc.SetWriteDeadline(c.wdeadline)
}

// writeLocked writes b with the write timeout; c.wmu is held.
func (c *ServerConn) writeLocked(b []byte) error {
	c.refreshWriteDeadline(time.Now())
	n, err := c.nc.Write(b)
	c.stats.bytesOut.Add(uint64(n))
	if err != nil {
		err = fmt.Errorf("write: %w", err)
		c.fail(err)
	}
	return err
}

// writeRaw sends pre-encoded full messages in one vectored write and
// invalidates the header state of their chunk streams, as
// chunk.Writer.WriteRaw does. It writes through c.iov, a field, because
// (*net.Buffers).WriteTo on a local variable moves it to the heap: one
// allocation per write per subscriber on the fan-out path. The elements of
// bufs are consumed; now is about the current time.
func (c *ServerConn) writeRaw(bufs [][]byte, now time.Time) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for _, csid := range rawCSIDs {
		c.w.Invalidate(csid)
	}
	c.refreshWriteDeadline(now)
	c.iov = bufs
	n, err := c.iov.WriteTo(c.nc)
	c.iov = nil
	c.stats.bytesOut.Add(uint64(n))
	if err != nil {
		err = fmt.Errorf("write: %w", err)
		c.fail(err)
	}
	return err
}

// SendSharedObject queues a shared-object message (type 19, or 16 on AMF3
// connections; chunk stream 3, message stream 0) with body as its events.
// body must not change afterwards; it may be shared between connections.
// The connection's sender writes everything queued with one write.
// SendSharedObject never blocks: when the queue would exceed
// Server.SendQueueBytes (messages waiting and being written; a single
// larger message is accepted into an empty queue) the connection is closed
// and ErrSendQueueFull returned. A client that does not read at all is
// also closed by the write timeout.
func (c *ServerConn) SendSharedObject(body []byte) error {
	if len(body) >= maxSOBody {
		return fmt.Errorf("rtmp: send shared object: body of %d bytes exceeds %d", len(body), maxSOBody-1)
	}
	c.closeMu.Lock()
	if c.closing || c.closeErr != nil {
		c.closeMu.Unlock()
		return fmt.Errorf("rtmp: send shared object: %w", net.ErrClosed)
	}
	if !c.sending {
		c.sending = true
		c.soWake = make(chan struct{}, 1)
		c.wg.Go(c.sendLoop)
	}
	wake := c.soWake
	c.closeMu.Unlock()

	n := len(body) + soMsgOverhead
	c.soMu.Lock()
	if c.soBytes > 0 && c.soBytes+n > c.cfg.sendQueueBytes {
		c.soMu.Unlock()
		c.fail(ErrSendQueueFull)
		return ErrSendQueueFull
	}
	c.soq = append(c.soq, body)
	c.soBytes += n
	first := len(c.soq) == 1 // otherwise the sender was woken and has not taken the queue yet
	c.soMu.Unlock()
	if first {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// sendLoop writes the queued shared-object messages: all that are waiting
// when it wakes, encoded into one buffer and written at once.
func (c *ServerConn) sendLoop() {
	typeID := message.TypeSharedObjectAMF0
	if c.objectEncoding == 3 {
		typeID = message.TypeSharedObjectAMF3
	}
	var q [][]byte
	var scratch []byte // an AMF3 body with its leading encoding byte
	m := chunk.Message{ChunkStreamID: message.ChunkStreamCommand, TypeID: typeID}
	for {
		select {
		case <-c.done:
			return
		case <-c.soWake:
		}
		c.soMu.Lock()
		q, c.soq = c.soq, q[:0]
		c.soMu.Unlock()
		if len(q) == 0 {
			continue
		}
		n := 0
		c.wmu.Lock()
		c.wbuf = c.wbuf[:0]
		for _, body := range q {
			n += len(body) + soMsgOverhead
			if typeID == message.TypeSharedObjectAMF3 {
				scratch = append(append(scratch[:0], 0), body...)
				body = scratch
			}
			m.Body = body
			c.wbuf = c.w.AppendMessage(c.wbuf, &m)
		}
		err := c.writeLocked(c.wbuf)
		if cap(c.wbuf) > 64<<10 {
			c.wbuf = nil
		}
		c.wmu.Unlock()
		m.Body = nil
		if cap(scratch) > 64<<10 {
			scratch = nil
		}
		clear(q)
		if cap(q) > 4096 {
			q = nil
		}
		c.soMu.Lock()
		c.soBytes -= n
		c.soMu.Unlock()
		if err != nil {
			return
		}
	}
}

// onMedia forwards an audio, video or data message to the publisher of its
// stream. Messages on streams that do not publish are dropped.
func (c *ServerConn) onMedia(streamID uint32, typeID uint8, ts uint32, body []byte) {
	st := c.streams[streamID]
	if st == nil || st.pub == nil {
		return
	}
	if p, ok := newPacket(typeID, ts, body); ok {
		st.pub.WritePacket(p)
	}
}
