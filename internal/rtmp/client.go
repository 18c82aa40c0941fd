package rtmp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoal-live/shoal/internal/flv"
	"github.com/shoal-live/shoal/internal/rtmp/amf"
	"github.com/shoal-live/shoal/internal/rtmp/chunk"
	"github.com/shoal-live/shoal/internal/rtmp/handshake"
	"github.com/shoal-live/shoal/internal/rtmp/message"
)

// DefaultFlashVer is the flashVer a ClientConn sends unless told otherwise
// (what ffmpeg sends).
const DefaultFlashVer = "LNX 9,0,124,2"

// clientQueueSize is how many received packets wait for ReadPacket before
// the client stops reading from the server (TCP backpressure).
const clientQueueSize = 512

// ClientOptions configure Dial.
type ClientOptions struct {
	// App overrides the app taken from the URL path.
	App string
	// TCURL overrides the tcUrl, by default the URL as given.
	TCURL string
	// FlashVer is the flashVer of connect (DefaultFlashVer).
	FlashVer string
	// ObjectEncoding is 0 (AMF0) or 3 (AMF3). With 3, and a server that
	// agrees, commands are sent as type 17 and shared objects as type 16.
	ObjectEncoding float64
	// ConnectArgs are extra arguments of the connect command.
	ConnectArgs []any
	// ChunkSize is the outgoing chunk size (DefaultChunkSize).
	ChunkSize uint32
	// Limits bound what the server may send; zero fields take
	// chunk.DefaultLimits.
	Limits chunk.Limits
	// ReadTimeout, if set, pings a quiet server after half of it and closes
	// the connection after all of it.
	ReadTimeout time.Duration
	// WriteTimeout bounds each write (DefaultWriteTimeout).
	WriteTimeout time.Duration
	// Logger receives debug events; a discarding logger if nil.
	Logger *slog.Logger
}

// ClientConn is an RTMP client connection: it publishes or plays streams
// and exchanges shared-object messages. One goroutine, owned by the
// ClientConn and ended by Close, reads from the server.
type ClientConn struct {
	nc     net.Conn
	opts   ClientOptions
	logger *slog.Logger
	start  time.Time

	objectEncoding float64 // set by Dial before the reader sees commands
	rio            connIO
	r              *chunk.Reader // reader goroutine only
	ackWindow      uint32        // reader goroutine only
	lastAck        uint64        // reader goroutine only

	wmu sync.Mutex // guards w and writes to nc
	w   *chunk.Writer

	txid      atomic.Uint64
	pubSID    atomic.Uint32 // stream WritePacket sends on; 0 before Publish
	pubName   atomic.Value  // string: the published name
	playSID   atomic.Uint32 // stream whose packets ReadPacket returns
	pkts      chan *flv.Packet
	eof       atomic.Bool // ReadPacket returned io.EOF
	sawEOF    bool        // reader goroutine: the end of the played stream was queued
	readDone  chan struct{}
	closing   chan struct{} // closed by Close
	closeOnce sync.Once

	mu struct {
		sync.Mutex
		err      error                        // why the reader stopped
		calls    map[float64]chan callResult  // pending calls by transaction id
		statuses map[uint32]chan *StatusError // onStatus waiters by stream id
		onSO     func(body []byte)            // shared-object callback
	}
}

// callResult is the answer to a call.
type callResult struct {
	name string // _result or _error
	obj  any
	args []any
}

// Dial connects to rawURL (rtmp://host[:1935]/app[/room...]), does the
// handshake and the connect command, and returns once the server accepted
// the connection. A refused connect returns a *StatusError.
func Dial(ctx context.Context, rawURL string, opts ClientOptions) (*ClientConn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("rtmp: parse url: %w", err)
	}
	if u.Scheme != "rtmp" {
		return nil, fmt.Errorf("rtmp: url %q: scheme %q not supported", rawURL, u.Scheme)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "1935")
	}
	app := opts.App
	if app == "" {
		app = strings.Trim(u.Path, "/")
		if u.RawQuery != "" {
			app += "?" + u.RawQuery
		}
	}
	tcURL := opts.TCURL
	if tcURL == "" {
		tcURL = rawURL
	}
	if opts.FlashVer == "" {
		opts.FlashVer = DefaultFlashVer
	}
	if opts.ChunkSize == 0 {
		opts.ChunkSize = DefaultChunkSize
	}
	opts.ChunkSize = min(opts.ChunkSize, chunk.MaxChunkSize)
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, fmt.Errorf("rtmp: dial %s: %w", host, err)
	}
	c := &ClientConn{
		nc:       nc,
		opts:     opts,
		logger:   logger.With("remote_addr", nc.RemoteAddr().String()),
		start:    time.Now(),
		w:        chunk.NewWriter(nc),
		pkts:     make(chan *flv.Packet, clientQueueSize),
		readDone: make(chan struct{}),
		closing:  make(chan struct{}),
	}
	c.mu.calls = make(map[float64]chan callResult)
	c.mu.statuses = make(map[uint32]chan *StatusError)
	c.rio = connIO{nc: nc, ping: c.ping}
	c.r = chunk.NewReader(&c.rio, opts.Limits)

	if err := c.handshake(ctx); err != nil {
		_ = nc.Close()
		return nil, err
	}
	c.rio.idle = opts.ReadTimeout
	go c.readLoop()

	obj := amf.Object{
		{Key: "app", Value: app},
		{Key: "type", Value: "nonprivate"},
		{Key: "flashVer", Value: opts.FlashVer},
		{Key: "tcUrl", Value: tcURL},
		{Key: "fpad", Value: false},
		{Key: "capabilities", Value: 15.0},
		{Key: "audioCodecs", Value: 4071.0},
		{Key: "videoCodecs", Value: 252.0},
		{Key: "videoFunction", Value: 1.0},
		{Key: "objectEncoding", Value: opts.ObjectEncoding},
	}
	if err := c.writeMessages(&message.SetChunkSize{Size: opts.ChunkSize}); err != nil {
		_ = c.Close()
		return nil, err
	}
	res, err := c.call(ctx, message.ChunkStreamCommand, 0, "connect", obj, opts.ConnectArgs...)
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("rtmp: connect to %s: %w", rawURL, err)
	}
	if info, ok := properties(firstArg(res.args)); ok {
		if oe, ok := lookup(info, "objectEncoding").(float64); ok && oe == 3 && opts.ObjectEncoding == 3 {
			c.setObjectEncoding(3)
		}
	}
	return c, nil
}

// handshake runs the client handshake within ctx.
func (c *ClientConn) handshake(ctx context.Context) error {
	if dl, ok := ctx.Deadline(); ok {
		_ = c.nc.SetDeadline(dl)
	} else {
		_ = c.nc.SetDeadline(time.Now().Add(DefaultHandshakeTimeout))
	}
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(time.Unix(1, 0)) })
	err := handshake.Client(&c.rio)
	if !stop() {
		return fmt.Errorf("rtmp: handshake: %w", ctx.Err())
	}
	if err != nil {
		return fmt.Errorf("rtmp: handshake: %w", err)
	}
	_ = c.nc.SetDeadline(time.Time{})
	return nil
}

// setObjectEncoding sets the encoding of the commands the client sends.
func (c *ClientConn) setObjectEncoding(oe float64) {
	c.wmu.Lock()
	c.objectEncoding = oe
	c.wmu.Unlock()
}

// ObjectEncoding returns the object encoding agreed with the server: 3 if
// both asked for AMF3, else 0.
func (c *ClientConn) ObjectEncoding() float64 {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.objectEncoding
}

// firstArg returns args[0], or nil.
func firstArg(args []any) any {
	if len(args) > 0 {
		return args[0]
	}
	return nil
}

// Close ends publishing and playing as ffmpeg does (FCUnpublish and
// deleteStream, best effort, bounded by a short write timeout), closes the
// connection and waits for the reading goroutine.
func (c *ClientConn) Close() error {
	c.goodbye()
	var err error
	c.closeOnce.Do(func() {
		close(c.closing)
		err = c.nc.Close()
	})
	<-c.readDone
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// goodbye tells the server that the client's streams end, unless the
// connection is already gone.
func (c *ClientConn) goodbye() {
	select {
	case <-c.readDone:
		return
	default:
	}
	var msgs []message.Message
	if sid := c.pubSID.Load(); sid != 0 {
		msgs = append(msgs,
			c.commandMessage(message.ChunkStreamCommand, 0, "FCUnpublish", c.nextTxID(), nil, c.pubName.Load()),
			c.commandMessage(message.ChunkStreamCommand, 0, "deleteStream", c.nextTxID(), nil, float64(sid)))
	}
	if sid := c.playSID.Load(); sid != 0 {
		msgs = append(msgs, c.commandMessage(message.ChunkStreamCommand, 0, "deleteStream", c.nextTxID(), nil, float64(sid)))
	}
	if len(msgs) == 0 {
		return
	}
	_ = c.writeMessagesWithin(time.Second, msgs...)
}

// Publish starts publishing name (which may hold rooms: "room/cam1") the
// way ffmpeg does: releaseStream, FCPublish, createStream, publish. It
// returns after NetStream.Publish.Start, or a *StatusError.
func (c *ClientConn) Publish(ctx context.Context, name string) error {
	for _, cmd := range []string{"releaseStream", "FCPublish"} {
		if err := c.writeMessages(c.commandMessage(message.ChunkStreamCommand, 0, cmd, c.nextTxID(), nil, name)); err != nil {
			return err
		}
	}
	sid, err := c.createStream(ctx)
	if err != nil {
		return err
	}
	wait := c.watchStatus(sid)
	defer c.unwatchStatus(sid)
	if err := c.writeMessages(c.commandMessage(csidStatus, sid, "publish", 0, nil, name, "live")); err != nil {
		return err
	}
	if err := c.waitStatus(ctx, wait, CodePublishStart); err != nil {
		return fmt.Errorf("rtmp: publish %q: %w", name, err)
	}
	c.pubName.Store(name)
	c.pubSID.Store(sid)
	return nil
}

// Play starts playing name: createStream, play. It returns after
// NetStream.Play.Start, or a *StatusError (NetStream.Play.StreamNotFound
// and the like). Read the packets with ReadPacket.
func (c *ClientConn) Play(ctx context.Context, name string) error {
	sid, err := c.createStream(ctx)
	if err != nil {
		return err
	}
	wait := c.watchStatus(sid)
	defer c.unwatchStatus(sid)
	c.eof.Store(false)
	c.playSID.Store(sid)
	if err := c.writeMessages(
		c.commandMessage(csidStatus, sid, "play", 0, nil, name, -2.0),
		&message.UserControl{Event: message.UserControlSetBufferLength, StreamID: sid, BufferLength: 3000},
	); err != nil {
		return err
	}
	if err := c.waitStatus(ctx, wait, CodePlayStart); err != nil {
		return fmt.Errorf("rtmp: play %q: %w", name, err)
	}
	return nil
}

// createStream calls createStream and returns the new stream id.
func (c *ClientConn) createStream(ctx context.Context) (uint32, error) {
	res, err := c.call(ctx, message.ChunkStreamCommand, 0, "createStream", nil)
	if err != nil {
		return 0, fmt.Errorf("rtmp: createStream: %w", err)
	}
	id, ok := firstArg(res.args).(float64)
	if !ok || id <= 0 || id > 1<<31 {
		return 0, fmt.Errorf("rtmp: createStream: bad stream id %v", firstArg(res.args))
	}
	return uint32(id), nil
}

// WritePacket sends a packet on the published stream. Metadata data
// packets ("onMetaData" ...) are wrapped in @setDataFrame, as publishers
// send them.
func (c *ClientConn) WritePacket(p *flv.Packet) error {
	sid := c.pubSID.Load()
	if sid == 0 {
		return errors.New("rtmp: write packet: not publishing")
	}
	m := chunk.Message{Timestamp: p.Timestamp, TypeID: uint8(p.Type), StreamID: sid, Body: p.Payload}
	switch p.Type {
	case flv.PacketAudio:
		m.ChunkStreamID = message.ChunkStreamAudio
	case flv.PacketVideo:
		m.ChunkStreamID = message.ChunkStreamVideo
	default:
		m.ChunkStreamID = message.ChunkStreamData
		if _, ok := amf0StringPrefix(p.Payload, flv.OnMetaData); ok {
			m.Body = append(amf0String(setDataFrame), p.Payload...)
		}
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
	if err := c.w.WriteMessage(&m); err != nil {
		return fmt.Errorf("rtmp: write packet: %w", err)
	}
	return nil
}

// amf0String returns s encoded as an AMF0 string.
func amf0String(s string) []byte {
	return append([]byte{0x02, byte(len(s) >> 8), byte(len(s))}, s...)
}

// ReadPacket returns the next media or data packet of the played stream.
// It returns io.EOF when the server ends the stream (UnpublishNotify,
// Play.Stop or StreamEOF), and the connection's error once it has closed.
func (c *ClientConn) ReadPacket() (*flv.Packet, error) {
	if c.eof.Load() {
		return nil, io.EOF
	}
	select {
	case p := <-c.pkts:
		return c.packet(p)
	case <-c.readDone:
		select {
		case p := <-c.pkts:
			return c.packet(p)
		default:
			return nil, c.err()
		}
	}
}

// packet turns a queued packet into ReadPacket's result; nil marks the end.
func (c *ClientConn) packet(p *flv.Packet) (*flv.Packet, error) {
	if p == nil {
		c.eof.Store(true)
		return nil, io.EOF
	}
	return p, nil
}

// OnSharedObject sets the function that receives the bodies of the
// shared-object messages the server sends (for type 16 without the leading
// format byte). It runs on the reading goroutine and must not block.
func (c *ClientConn) OnSharedObject(f func(body []byte)) {
	c.mu.Lock()
	c.mu.onSO = f
	c.mu.Unlock()
}

// SendSharedObject sends a shared-object message: type 16 on an AMF3
// connection, else 19.
func (c *ClientConn) SendSharedObject(body []byte) error {
	return c.writeMessages(&message.SharedObject{AMF3: c.ObjectEncoding() == 3, Body: body})
}

// Call sends command name with args (and a null command object) and waits
// for the answer. It returns the values after the transaction id of
// _result (the command object first), or a *StatusError for _error.
func (c *ClientConn) Call(ctx context.Context, name string, args ...any) ([]any, error) {
	res, err := c.call(ctx, message.ChunkStreamCommand, 0, name, nil, args...)
	if err != nil {
		return nil, err
	}
	return append([]any{res.obj}, res.args...), nil
}

// nextTxID returns a new transaction id; connect is 1.
func (c *ClientConn) nextTxID() float64 { return float64(c.txid.Add(1)) }

// call sends a command and waits for its _result or _error.
func (c *ClientConn) call(ctx context.Context, csid, sid uint32, name string, obj any, args ...any) (callResult, error) {
	txid := c.nextTxID()
	ch := make(chan callResult, 1)
	c.mu.Lock()
	if c.mu.err != nil {
		err := c.mu.err
		c.mu.Unlock()
		return callResult{}, err
	}
	c.mu.calls[txid] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.mu.calls, txid)
		c.mu.Unlock()
	}()
	var msg message.Message
	if name == "connect" {
		msg = &message.CommandAMF0{ChunkStreamID: csid, StreamID: sid, Name: name, TransactionID: txid, Object: obj, Args: args}
	} else {
		msg = c.commandMessage(csid, sid, name, txid, obj, args...)
	}
	if err := c.writeMessages(msg); err != nil {
		return callResult{}, err
	}
	var res callResult
	select {
	case res = <-ch:
	case <-ctx.Done():
		return callResult{}, fmt.Errorf("rtmp: %s: %w", name, ctx.Err())
	case <-c.readDone:
		select { // an answer that came just before the connection closed
		case res = <-ch:
		default:
			return callResult{}, c.err()
		}
	}
	if res.name == "_error" {
		return res, errorStatus(res)
	}
	return res, nil
}

// errorStatus builds the StatusError of an _error answer.
func errorStatus(res callResult) error {
	if s, ok := parseStatus(firstArg(res.args)); ok {
		return s
	}
	if s, ok := parseStatus(res.obj); ok {
		return s
	}
	return &StatusError{Level: LevelError, Description: "call failed without status"}
}

// watchStatus registers for the onStatus messages of stream sid.
func (c *ClientConn) watchStatus(sid uint32) chan *StatusError {
	ch := make(chan *StatusError, 16)
	c.mu.Lock()
	c.mu.statuses[sid] = ch
	c.mu.Unlock()
	return ch
}

// unwatchStatus ends watchStatus.
func (c *ClientConn) unwatchStatus(sid uint32) {
	c.mu.Lock()
	delete(c.mu.statuses, sid)
	c.mu.Unlock()
}

// waitStatus waits for the status code want; an error-level status ends
// the wait with that status as error.
func (c *ClientConn) waitStatus(ctx context.Context, ch chan *StatusError, want string) error {
	// final reports whether s ends the wait, and with what.
	final := func(s *StatusError) (bool, error) {
		switch {
		case s.Code == want:
			return true, nil
		case s.Level == LevelError:
			return true, s
		}
		return false, nil
	}
	for {
		select {
		case s := <-ch:
			if ok, err := final(s); ok {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		case <-c.readDone:
			for { // statuses that came just before the connection closed win
				select {
				case s := <-ch:
					if ok, err := final(s); ok {
						return err
					}
				default:
					return c.err()
				}
			}
		}
	}
}

// err returns why the reader stopped.
func (c *ClientConn) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.err == nil {
		return net.ErrClosed
	}
	return c.mu.err
}

// commandMessage builds a command in the agreed object encoding.
func (c *ClientConn) commandMessage(csid, streamID uint32, name string, txid float64, obj any, args ...any) message.Message {
	if c.ObjectEncoding() == 3 {
		return &message.CommandAMF3{ChunkStreamID: csid, StreamID: streamID, Name: name, TransactionID: txid, Object: obj, Args: args}
	}
	return &message.CommandAMF0{ChunkStreamID: csid, StreamID: streamID, Name: name, TransactionID: txid, Object: obj, Args: args}
}

// writeMessages encodes msgs and sends them; a SetChunkSize applies to the
// messages after it.
func (c *ClientConn) writeMessages(msgs ...message.Message) error {
	return c.writeMessagesWithin(c.opts.WriteTimeout, msgs...)
}

// writeMessagesWithin is writeMessages with a write timeout.
func (c *ClientConn) writeMessagesWithin(timeout time.Duration, msgs ...message.Message) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(timeout))
	for _, msg := range msgs {
		cm, err := message.Encode(msg)
		if err != nil {
			return fmt.Errorf("rtmp: encode %T: %w", msg, err)
		}
		if err := c.w.WriteMessage(cm); err != nil {
			return fmt.Errorf("rtmp: %w", err)
		}
		if s, ok := msg.(*message.SetChunkSize); ok {
			c.w.SetChunkSize(s.Size)
		}
	}
	return nil
}

// ping sends a ping request to a quiet server.
func (c *ClientConn) ping() error {
	return c.writeMessages(&message.UserControl{Event: message.UserControlPingRequest, Timestamp: uint32(time.Since(c.start).Milliseconds())})
}
