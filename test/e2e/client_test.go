package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/coder/websocket"

	"github.com/shoal-live/shoal/internal/rtmp"
	"github.com/shoal-live/shoal/internal/rtmp/somsg"
)

// kind is how a test client reaches shared objects.
type kind int

const (
	rtmpAMF0  kind = iota + 1 // a Flash client with AMF0 encoding (message type 19)
	rtmpAMF3                  // AMF3 encoding (message type 16)
	webSocket                 // the JSON protocol on /so/{app}
)

func (k kind) String() string {
	switch k {
	case rtmpAMF0:
		return "amf0"
	case rtmpAMF3:
		return "amf3"
	case webSocket:
		return "ws"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// event is a shared-object event as any client kind received it. typ is
// the WebSocket protocol's name: use_success, clear, change, success,
// remove, message, status. key is the handler of a message and the code
// of a status.
type event struct {
	typ   string
	key   string
	value any
}

// batch is one message of the server for one object.
type batch struct {
	version uint64
	events  []event
}

func (b batch) has(typ string) bool {
	return slices.ContainsFunc(b.events, func(e event) bool { return e.typ == typ })
}

// soConn is one connection of a test client, using one shared object. It
// passes every batch it receives for the object, the use's own first, to
// the onBatch function given to dial, on its read goroutine.
type soConn interface {
	// update sends the sets (nil value: remove) as one batch.
	update(sets []kv) error
	// message calls handler(args...) on every client of the object.
	message(handler string, args []any) error
	// probe fails if the connection no longer works.
	probe(ctx context.Context) error
	close()
}

type kv struct {
	key   string
	value any // nil removes the key
}

// errStatus is a use refused with a status event.
var errStatus = errors.New("use refused")

// dial connects a client of kind k to the object on node n and returns
// once the use succeeded (its batch was passed to onBatch) or failed.
func dial(ctx context.Context, k kind, n *node, scope, name string, persistent bool, onBatch func(batch)) (soConn, error) {
	used := make(chan error, 1)
	first := true
	cb := func(b batch) {
		if first {
			var err error
			switch {
			case b.has("use_success"):
			case b.has("status"):
				err = fmt.Errorf("%w: %v", errStatus, b.events)
			default:
				return // not the use's answer
			}
			first = false
			if err == nil {
				onBatch(b)
			}
			used <- err
			return
		}
		onBatch(b)
	}
	var c soConn
	var closed <-chan struct{}
	var err error
	if k == webSocket {
		var ws *wsConn
		ws, err = dialWS(ctx, n.httpAddr, scope, name, persistent, cb)
		c = ws
		if ws != nil {
			closed = ws.done
		}
	} else {
		var r *rtmpConn
		r, err = dialRTMP(ctx, k, n.rtmpAddr, scope, name, persistent, cb)
		c = r
		if r != nil {
			closed = r.done
		}
	}
	if err != nil {
		return nil, err
	}
	select {
	case err = <-used:
	case <-closed:
		err = errors.New("connection closed before the use was answered")
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		c.close()
		return nil, fmt.Errorf("use %s: %w", name, err)
	}
	return c, nil
}

// rtmpConn is a shared-object client on an RTMP connection, speaking as
// Flash does: message type 19 on AMF0 connections, 16 on AMF3.
type rtmpConn struct {
	c          *rtmp.ClientConn
	name       string
	persistent bool
	amf3       bool
	done       chan struct{} // closed when the connection is found closed
}

func dialRTMP(ctx context.Context, k kind, addr, scope, name string, persistent bool, onBatch func(batch)) (*rtmpConn, error) {
	enc := 0.0
	if k == rtmpAMF3 {
		enc = 3
	}
	c, err := rtmp.Dial(ctx, "rtmp://"+addr+"/"+scope, rtmp.ClientOptions{ObjectEncoding: enc})
	if err != nil {
		return nil, err
	}
	if c.ObjectEncoding() != enc {
		c.Close()
		return nil, fmt.Errorf("object encoding %v, want %v", c.ObjectEncoding(), enc)
	}
	r := &rtmpConn{c: c, name: name, persistent: persistent, amf3: enc == 3, done: make(chan struct{})}
	c.OnSharedObject(func(body []byte) {
		m, err := somsg.Decode(body, r.amf3)
		if err != nil || m.Name != name {
			return
		}
		onBatch(fromSOMsg(m))
	})
	if err := r.send(somsg.Event{Type: somsg.Use}); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

var somsgNames = map[somsg.EventType]string{
	somsg.UseSuccess: "use_success", somsg.Clear: "clear", somsg.Change: "change", somsg.Success: "success",
	somsg.Remove: "remove", somsg.SendMessage: "message", somsg.Status: "status",
}

func fromSOMsg(m *somsg.Message) batch {
	out := batch{version: uint64(m.Version)}
	for _, ev := range m.Events {
		switch {
		case ev.Type == somsg.Change && ev.Pairs != nil:
			for _, p := range ev.Pairs {
				out.events = append(out.events, event{typ: "change", key: p.Key, value: p.Value})
			}
		case ev.Type == somsg.SendMessage:
			out.events = append(out.events, event{typ: "message", key: ev.Handler, value: ev.Args})
		case ev.Type == somsg.Status:
			out.events = append(out.events, event{typ: "status", key: ev.Code})
		default:
			out.events = append(out.events, event{typ: somsgNames[ev.Type], key: ev.Key, value: ev.Value})
		}
	}
	return out
}

func (r *rtmpConn) send(evs ...somsg.Event) error {
	m := somsg.Message{Name: r.name, Persistent: r.persistent, Events: evs}
	body, err := somsg.Append(nil, &m, r.amf3)
	if err != nil {
		return err
	}
	return r.c.SendSharedObject(body)
}

func (r *rtmpConn) update(sets []kv) error {
	evs := make([]somsg.Event, len(sets))
	for i, s := range sets {
		// A RequestChange with null removes the key (Red5 and Shoal alike).
		evs[i] = somsg.Event{Type: somsg.RequestChange, Key: s.key, Value: s.value}
	}
	return r.send(evs...)
}

func (r *rtmpConn) message(handler string, args []any) error {
	return r.send(somsg.Event{Type: somsg.SendMessage, Handler: handler, Args: args})
}

func (r *rtmpConn) probe(ctx context.Context) error {
	// Any command answered proves the connection; this one is cheap.
	if _, err := r.c.Call(ctx, "getStreamLength", "probe"); err != nil {
		select {
		case <-r.done:
		default:
			close(r.done)
		}
		return err
	}
	return nil
}

func (r *rtmpConn) close() { r.c.Close() }

// wsConn is a WebSocket shared-object client speaking the JSON protocol of
// docs/shared-objects-websocket.md.
type wsConn struct {
	ws      *websocket.Conn
	name    string
	onBatch func(batch)
	done    chan struct{} // closed when the read loop ends
	pongs   chan struct{}
}

func dialWS(ctx context.Context, addr, scope, name string, persistent bool, onBatch func(batch)) (*wsConn, error) {
	ws, resp, err := websocket.Dial(ctx, "ws://"+addr+"/so/"+scope, nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(16 << 20)
	c := &wsConn{ws: ws, name: name, onBatch: onBatch, done: make(chan struct{}), pongs: make(chan struct{}, 1)}
	go c.read()
	if err := c.send(ctx, map[string]any{"op": "use", "name": name, "persistent": persistent}); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func (c *wsConn) send(ctx context.Context, m map[string]any) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageText, b)
}

type wsFrame struct {
	Ev      string `json:"ev"`
	Name    string `json:"name"`
	Version uint64 `json:"version"`
	Events  []struct {
		Type    string `json:"type"`
		Key     string `json:"key"`
		Value   any    `json:"value"`
		Handler string `json:"handler"`
		Args    []any  `json:"args"`
		Code    string `json:"code"`
	} `json:"events"`
	Error string `json:"error"`
}

func (c *wsConn) read() {
	defer close(c.done)
	for {
		_, b, err := c.ws.Read(context.Background())
		if err != nil {
			return
		}
		var f wsFrame
		if err := json.Unmarshal(b, &f); err != nil {
			return
		}
		switch {
		case f.Ev == "pong":
			select {
			case c.pongs <- struct{}{}:
			default:
			}
		case f.Ev == "error":
			c.onBatch(batch{events: []event{{typ: "status", key: "error: " + f.Error}}})
		case f.Ev == "batch" && f.Name == c.name:
			b := batch{version: f.Version}
			for _, e := range f.Events {
				ev := event{typ: e.Type, key: e.Key, value: e.Value}
				switch e.Type {
				case "message":
					ev.key, ev.value = e.Handler, e.Args
				case "status":
					ev.key = e.Code
				}
				b.events = append(b.events, ev)
			}
			c.onBatch(b)
		}
	}
}

func (c *wsConn) update(sets []kv) error {
	set := map[string]any{}
	var remove []string
	for _, s := range sets {
		if s.value == nil {
			remove = append(remove, s.key)
		} else {
			set[s.key] = s.value
		}
	}
	m := map[string]any{"op": "update", "name": c.name, "set": set}
	if len(remove) > 0 {
		m["remove"] = remove
	}
	return c.send(context.Background(), m)
}

func (c *wsConn) message(handler string, args []any) error {
	return c.send(context.Background(), map[string]any{"op": "send", "name": c.name, "handler": handler, "args": args})
}

func (c *wsConn) probe(ctx context.Context) error {
	select {
	case <-c.done:
		return errors.New("websocket closed")
	default:
	}
	if err := c.send(ctx, map[string]any{"op": "ping"}); err != nil {
		return err
	}
	select {
	case <-c.pongs:
		return nil
	case <-c.done:
		return errors.New("websocket closed")
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *wsConn) close() {
	c.ws.CloseNow()
	<-c.done
}
