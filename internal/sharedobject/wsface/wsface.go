// Package wsface serves shared objects to browsers over WebSocket with a
// JSON protocol (docs/shared-objects-websocket.md), and serves the
// dependency-free JavaScript client (/so.js) that speaks it. RTMP and
// WebSocket clients of one object see each other's changes: both are
// listeners of the same sharedobject.Manager.
package wsface

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/shoal-live/shoal/internal/rtmp/somsg"
	"github.com/shoal-live/shoal/internal/sharedobject"
)

// objects is the part of the shared-object manager that the face uses.
type objects interface {
	Use(ctx context.Context, id sharedobject.ObjectID, l sharedobject.Listener, conn sharedobject.ConnInfo) error
	Release(id sharedobject.ObjectID, l sharedobject.Listener)
	Submit(ctx context.Context, id sharedobject.ObjectID, l sharedobject.Listener, conn sharedobject.ConnInfo,
		reqs []sharedobject.Request) error
}

// Handler is the WebSocket endpoint /so/{app}/{scope...}: the path after
// /so/ is the scope every object of the connection lives in.
type Handler struct {
	objects objects
	logger  *slog.Logger
	// MaxMessageBytes bounds one client frame; larger frames close the
	// connection with status 1009.
	MaxMessageBytes int64
	// QueueBytes bounds the frames waiting to be written to one client,
	// each counted as its length plus 64 bytes; a client that falls further
	// behind is disconnected. Frames are small and come in bursts when a
	// backlog is applied, so the bound is in bytes, not frames.
	QueueBytes int
	// Origins are allowed Origin header patterns (see
	// websocket.AcceptOptions.OriginPatterns); empty allows any origin.
	Origins []string

	ids   atomic.Uint64
	conns atomic.Int64
}

// New returns a Handler serving the objects of m.
func New(m objects, logger *slog.Logger) *Handler {
	return &Handler{objects: m, logger: logger, MaxMessageBytes: 1 << 20, QueueBytes: DefaultQueueBytes}
}

// Conns is the number of open WebSocket connections.
func (h *Handler) Conns() int64 { return h.conns.Load() }

// ServeHTTP upgrades the request and serves the connection until it closes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	scope := strings.Trim(strings.TrimPrefix(r.URL.Path, "/so/"), "/")
	if scope == "" || strings.Contains(scope, "//") {
		http.Error(w, "shared objects: the path must be /so/{app}[/{room}...]", http.StatusBadRequest)
		return
	}
	opts := &websocket.AcceptOptions{OriginPatterns: h.Origins}
	if len(h.Origins) == 0 {
		opts.InsecureSkipVerify = true
	}
	ws, err := websocket.Accept(w, r, opts)
	if err != nil {
		h.logger.Info("websocket upgrade failed", "remote_addr", r.RemoteAddr, "err", err)
		return
	}
	ws.SetReadLimit(h.MaxMessageBytes)
	c := &conn{
		h:     h,
		ws:    ws,
		scope: scope,
		info: sharedobject.ConnInfo{
			ID:         fmt.Sprintf("ws-%d", h.ids.Add(1)),
			RemoteAddr: r.RemoteAddr,
			Transport:  "websocket",
		},
		wake: make(chan struct{}, 1),
		used: map[string]sharedobject.ObjectID{},
	}
	c.logger = h.logger.With("conn_id", c.info.ID, "remote_addr", r.RemoteAddr, "scope", scope)
	h.conns.Add(1)
	defer h.conns.Add(-1)
	c.serve(r.Context())
}

// conn is one WebSocket client. It is the Listener of every object it uses.
type conn struct {
	h      *Handler
	ws     *websocket.Conn
	scope  string
	info   sharedobject.ConnInfo
	logger *slog.Logger

	wake      chan struct{} // capacity 1: frames were queued
	qmu       sync.Mutex
	q         [][]byte // frames to write, guarded by qmu
	qBytes    int      // what q counts against Handler.QueueBytes, guarded by qmu
	closeOnce sync.Once
	closed    chan struct{}
	reason    atomic.Pointer[string]

	used map[string]sharedobject.ObjectID // by name; read goroutine only
}

func (c *conn) serve(parent context.Context) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	c.closed = make(chan struct{})
	c.logger.Info("websocket connected")
	start := time.Now()

	var wg sync.WaitGroup
	wg.Go(func() { c.writeLoop(ctx) })
	err := c.readLoop(ctx)
	for _, id := range c.used {
		c.h.objects.Release(id, c)
	}
	c.shutdown("")
	cancel()
	wg.Wait()

	status, reason := websocket.StatusNormalClosure, ""
	if r := c.reason.Load(); r != nil && *r != "" {
		status, reason = websocket.StatusPolicyViolation, *r
	}
	var ce websocket.CloseError
	switch {
	case errors.As(err, &ce):
		// The client closed.
	case err != nil && reason == "":
		status, reason = protocolStatus(err), err.Error()
	}
	if len(reason) > 120 {
		reason = reason[:120]
	}
	_ = c.ws.Close(status, reason)
	c.logger.Info("websocket closed", "duration", time.Since(start).Round(time.Millisecond), "reason", reason)
}

func protocolStatus(err error) websocket.StatusCode {
	var pe *protocolError
	if errors.As(err, &pe) {
		return websocket.StatusInvalidFramePayloadData
	}
	if websocket.CloseStatus(err) == websocket.StatusMessageTooBig {
		return websocket.StatusMessageTooBig
	}
	return websocket.StatusInternalError
}

// shutdown stops the connection once, remembering why.
func (c *conn) shutdown(reason string) {
	c.closeOnce.Do(func() {
		c.reason.Store(&reason)
		close(c.closed)
	})
}

func (c *conn) writeLoop(ctx context.Context) {
	var frames [][]byte
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.closed:
			// Flush what is queued (a final status, for instance), then stop.
			frames = c.take(frames)
			for _, b := range frames {
				if c.write(ctx, b) != nil {
					return
				}
			}
			return
		case <-c.wake:
			frames = c.take(frames)
			for i, b := range frames {
				if err := c.write(ctx, b); err != nil {
					c.shutdown("")
					return
				}
				frames[i] = nil
			}
		}
	}
}

// take returns the queued frames (in frames' storage) and empties the
// queue.
func (c *conn) take(frames [][]byte) [][]byte {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	frames, c.q = c.q, frames[:0]
	c.qBytes = 0
	return frames
}

func (c *conn) write(ctx context.Context, b []byte) error {
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return c.ws.Write(wctx, websocket.MessageText, b)
}

// frameOverhead is what a queued frame counts against QueueBytes besides
// its bytes.
const frameOverhead = 64

// DefaultQueueBytes is the default Handler.QueueBytes.
const DefaultQueueBytes = 8 << 20

// enqueue queues a frame without blocking; a client too slow to keep up is
// disconnected rather than allowed to hold memory or stall the object.
func (c *conn) enqueue(b []byte) {
	n := len(b) + frameOverhead
	limit := c.h.QueueBytes
	if limit <= 0 {
		limit = DefaultQueueBytes
	}
	c.qmu.Lock()
	if c.qBytes > 0 && c.qBytes+n > limit {
		queued := c.qBytes
		c.qmu.Unlock()
		c.logger.Warn("websocket send queue full, disconnecting", "queued_bytes", queued)
		c.shutdown("send queue full")
		_ = c.ws.CloseNow()
		return
	}
	c.q = append(c.q, b)
	c.qBytes += n
	first := len(c.q) == 1
	c.qmu.Unlock()
	if first {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

func (c *conn) readLoop(ctx context.Context) error {
	for {
		typ, b, err := c.ws.Read(ctx)
		if err != nil {
			select {
			case <-c.closed:
				return nil
			default:
			}
			return err
		}
		if typ != websocket.MessageText {
			return &protocolError{"binary frames are not part of the protocol; send JSON text"}
		}
		req, err := parseRequest(b)
		if err != nil {
			return err
		}
		if err := c.handle(ctx, req); err != nil {
			if ctx.Err() != nil {
				return nil //nolint:nilerr // the connection is ending; the error is the cancellation
			}
			return err
		}
	}
}

// handle carries out one request. Mistakes in a request that parsed are
// answered with an error frame; the connection stays open.
func (c *conn) handle(ctx context.Context, r *request) error {
	if r.Op == "ping" {
		c.enqueue([]byte(`{"ev":"pong"}`))
		return nil
	}
	id := sharedobject.ObjectID{Scope: c.scope, Name: r.Name, Persistent: r.Persistent}
	if r.Op == "use" {
		if _, ok := c.used[r.Name]; ok {
			c.replyError(r, "already using "+r.Name)
			return nil
		}
		if err := c.h.objects.Use(ctx, id, c, c.info); err != nil {
			c.replyError(r, err.Error())
			return nil
		}
		c.used[r.Name] = id
		return nil
	}
	used, ok := c.used[r.Name]
	if !ok {
		c.replyError(r, "not using "+r.Name+": send use first")
		return nil
	}
	if r.Op == "release" {
		delete(c.used, r.Name)
		c.h.objects.Release(used, c)
		return nil
	}
	if err := c.h.objects.Submit(ctx, used, c, c.info, r.reqs); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("submit: %w", err)
		}
		// The log may be unavailable for a while (a NATS server lost, a
		// stream electing its leader): the request got no Success, and the
		// connection stays usable, as an RTMP connection does.
		if !errors.Is(err, sharedobject.ErrNotUsed) {
			c.logger.Warn("shared object request failed", "name", r.Name, "err", err)
		}
		c.replyError(r, err.Error())
		return nil
	}
	return nil
}

func (c *conn) replyError(r *request, msg string) {
	b, _ := json.Marshal(struct {
		Ev    string `json:"ev"`
		Op    string `json:"op,omitempty"`
		Name  string `json:"name,omitempty"`
		Error string `json:"error"`
	}{"error", r.Op, r.Name, msg})
	c.enqueue(b)
}

// Deliver implements sharedobject.Listener: the events of one batch become
// one frame.
func (c *conn) Deliver(obj sharedobject.ObjectID, version uint64, events []sharedobject.Event) {
	b, err := encodeBatch(obj.Name, version, events)
	if err != nil {
		c.logger.Warn("shared object event not representable in JSON", "name", obj.Name, "err", err)
		return
	}
	c.enqueue(b)
}

var eventNames = map[somsg.EventType]string{
	somsg.UseSuccess:  "use_success",
	somsg.Clear:       "clear",
	somsg.Change:      "change",
	somsg.Success:     "success",
	somsg.Remove:      "remove",
	somsg.SendMessage: "message",
	somsg.Status:      "status",
}

// encodeBatch writes {"ev":"batch","name":…,"version":…,"events":[…]}.
func encodeBatch(name string, version uint64, events []sharedobject.Event) ([]byte, error) {
	b := make([]byte, 0, 128)
	b = append(b, `{"ev":"batch","name":`...)
	b = appendString(b, name)
	b = append(b, `,"version":`...)
	b = fmt.Appendf(b, "%d", version)
	b = append(b, `,"events":[`...)
	n := 0
	var err error
	for i := range events {
		ev := &events[i]
		typ, ok := eventNames[ev.Type]
		if !ok {
			continue
		}
		if ev.Type == somsg.Change && len(ev.Pairs) > 0 {
			for _, p := range ev.Pairs {
				b = sep(b, &n)
				b = append(b, `{"type":"change","key":`...)
				b = appendString(b, p.Key)
				b = append(b, `,"value":`...)
				if b, err = appendJSON(b, p.Value); err != nil {
					return nil, err
				}
				b = append(b, '}')
			}
			continue
		}
		b = sep(b, &n)
		b = append(b, `{"type":"`...)
		b = append(b, typ...)
		b = append(b, '"')
		switch ev.Type {
		case somsg.Change:
			b = append(b, `,"key":`...)
			b = appendString(b, ev.Key)
			b = append(b, `,"value":`...)
			if b, err = appendJSON(b, ev.Value); err != nil {
				return nil, err
			}
		case somsg.Success, somsg.Remove:
			b = append(b, `,"key":`...)
			b = appendString(b, ev.Key)
		case somsg.SendMessage:
			b = append(b, `,"handler":`...)
			b = appendString(b, ev.Handler)
			b = append(b, `,"args":`...)
			args := ev.Args
			if args == nil {
				args = []any{}
			}
			if b, err = appendList(b, args, 0); err != nil {
				return nil, err
			}
		case somsg.Status:
			b = append(b, `,"code":`...)
			b = appendString(b, ev.Code)
			b = append(b, `,"level":`...)
			b = appendString(b, ev.Level)
			if ev.Description != "" {
				b = append(b, `,"description":`...)
				b = appendString(b, ev.Description)
			}
		}
		b = append(b, '}')
	}
	return append(b, "]}"...), nil
}

func sep(b []byte, n *int) []byte {
	if *n > 0 {
		b = append(b, ',')
	}
	*n++
	return b
}
