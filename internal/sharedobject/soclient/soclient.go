// Package soclient is a shared-object client over RTMP, speaking as a Flash
// client does (message type 19 on AMF0 connections, 16 on AMF3). Tests and
// `shoal bench so` use it.
package soclient

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/shoal-live/shoal/internal/rtmp"
	"github.com/shoal-live/shoal/internal/rtmp/amf"
	"github.com/shoal-live/shoal/internal/rtmp/somsg"
)

// conn is what the client needs of an RTMP client connection.
type conn interface {
	ObjectEncoding() float64
	SendSharedObject(body []byte) error
	OnSharedObject(func(body []byte))
}

var _ conn = (*rtmp.ClientConn)(nil)

// Client multiplexes the shared objects of one RTMP connection.
type Client struct {
	c    conn
	amf3 bool

	mu      sync.Mutex
	objects map[string]*Object // guarded by mu
	err     error              // first decode error; guarded by mu
}

// New returns a Client on c. It takes over c's shared-object callback.
func New(c conn) *Client {
	cl := &Client{c: c, amf3: c.ObjectEncoding() == 3, objects: map[string]*Object{}}
	c.OnSharedObject(cl.receive)
	return cl
}

// Batch is one message the server sent for an object: its version and
// events, in order.
type Batch struct {
	Version uint32
	Events  []somsg.Event
}

// Object is the client's copy of one shared object.
type Object struct {
	cl         *Client
	name       string
	persistent bool
	batches    chan Batch // every batch received, for tests and benchmarks; bounded

	mu        sync.Mutex
	data      map[string]any // guarded by mu
	version   uint32
	connected chan struct{} // closed on UseSuccess
	status    *somsg.Event  // first Status before UseSuccess
	statusCh  chan struct{}
	onBatch   func(Batch)
}

// ErrStatus wraps a Status event the server answered with.
type StatusError struct{ Code, Level, Description string }

func (e *StatusError) Error() string { return "shared object status " + e.Code }

// Use starts using the object and waits for UseSuccess (or a Status
// error). buffer bounds the batches kept for Batches; when it is full the
// oldest are dropped.
func (c *Client) Use(ctx context.Context, name string, persistent bool, buffer int) (*Object, error) {
	o := &Object{
		cl: c, name: name, persistent: persistent,
		batches:   make(chan Batch, buffer),
		data:      map[string]any{},
		connected: make(chan struct{}),
		statusCh:  make(chan struct{}, 1),
	}
	c.mu.Lock()
	if _, ok := c.objects[name]; ok {
		c.mu.Unlock()
		return nil, fmt.Errorf("use %s: already in use on this connection", name)
	}
	c.objects[name] = o
	c.mu.Unlock()
	if err := o.send(somsg.Event{Type: somsg.Use}); err != nil {
		return nil, err
	}
	select {
	case <-o.connected:
		return o, nil
	case <-o.statusCh:
		c.mu.Lock()
		delete(c.objects, name)
		c.mu.Unlock()
		o.mu.Lock()
		st := o.status
		o.mu.Unlock()
		return nil, &StatusError{Code: st.Code, Level: st.Level}
	case <-ctx.Done():
		return nil, fmt.Errorf("use %s: %w", name, ctx.Err())
	}
}

// Err returns the first error decoding a server message.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *Client) receive(body []byte) {
	m, err := somsg.Decode(body, c.amf3)
	c.mu.Lock()
	if err != nil {
		if c.err == nil {
			c.err = err
		}
		c.mu.Unlock()
		return
	}
	o := c.objects[m.Name]
	c.mu.Unlock()
	if o != nil {
		o.apply(m)
	}
}

func (o *Object) apply(m *somsg.Message) {
	o.mu.Lock()
	if m.Version != 0 {
		o.version = m.Version
	}
	for _, ev := range m.Events {
		switch ev.Type {
		case somsg.UseSuccess:
			select {
			case <-o.connected:
			default:
				close(o.connected)
			}
		case somsg.Clear:
			o.data = map[string]any{}
		case somsg.Change:
			if ev.Pairs != nil {
				for _, p := range ev.Pairs {
					o.data[p.Key] = p.Value
				}
			} else {
				o.data[ev.Key] = ev.Value
			}
		case somsg.Remove:
			delete(o.data, ev.Key)
		case somsg.Status:
			if o.status == nil {
				e := ev
				o.status = &e
				select {
				case o.statusCh <- struct{}{}:
				default:
				}
			}
		}
	}
	fn := o.onBatch
	o.mu.Unlock()
	b := Batch{Version: m.Version, Events: m.Events}
	if fn != nil {
		fn(b)
	}
	for {
		select {
		case o.batches <- b:
			return
		default:
		}
		select { // full: drop the oldest
		case <-o.batches:
		default:
		}
	}
}

// OnBatch sets a function called, on the connection's read goroutine, with
// every batch after it is applied. It must not block.
func (o *Object) OnBatch(fn func(Batch)) {
	o.mu.Lock()
	o.onBatch = fn
	o.mu.Unlock()
}

// Batches returns the channel of received batches.
func (o *Object) Batches() <-chan Batch { return o.batches }

// Get returns the client's copy of key.
func (o *Object) Get(key string) (any, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	v, ok := o.data[key]
	return v, ok
}

// Data returns a copy of the client's data.
func (o *Object) Data() map[string]any {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[string]any, len(o.data))
	for k, v := range o.data {
		out[k] = v
	}
	return out
}

// Version is the version of the last message received.
func (o *Object) Version() uint32 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.version
}

// Set asks the server to set key (RequestChange). A nil value removes it.
func (o *Object) Set(key string, value any) error {
	return o.send(somsg.Event{Type: somsg.RequestChange, Key: key, Value: value})
}

// SetMany sends several RequestChange events in one message: one batch.
func (o *Object) SetMany(props amf.Object) error {
	evs := make([]somsg.Event, 0, len(props))
	for _, p := range props {
		evs = append(evs, somsg.Event{Type: somsg.RequestChange, Key: p.Key, Value: p.Value})
	}
	return o.send(evs...)
}

// Remove asks the server to remove key (RequestRemove).
func (o *Object) Remove(key string) error {
	return o.send(somsg.Event{Type: somsg.RequestRemove, Key: key})
}

// Send calls handler with args on every client of the object, this one too.
func (o *Object) Send(handler string, args ...any) error {
	return o.send(somsg.Event{Type: somsg.SendMessage, Handler: handler, Args: args})
}

// Release stops using the object.
func (o *Object) Release() error {
	err := o.send(somsg.Event{Type: somsg.Release})
	o.cl.mu.Lock()
	delete(o.cl.objects, o.name)
	o.cl.mu.Unlock()
	return err
}

func (o *Object) send(evs ...somsg.Event) error {
	m := somsg.Message{Name: o.name, Version: o.Version(), Persistent: o.persistent, Events: evs}
	body, err := somsg.Append(nil, &m, o.cl.amf3)
	if err != nil {
		return fmt.Errorf("encode %s: %w", o.name, err)
	}
	if err := o.cl.c.SendSharedObject(body); err != nil {
		return fmt.Errorf("send %s: %w", o.name, err)
	}
	return nil
}

// IsStatus reports whether err is a StatusError with code.
func IsStatus(err error, code string) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Code == code
}
