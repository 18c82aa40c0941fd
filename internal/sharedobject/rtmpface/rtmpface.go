// Package rtmpface connects RTMP connections to shared objects: it decodes
// the shared-object messages (types 19 and 16) of a connection, hands them
// to the sharedobject.Manager as one batch per message, and encodes the
// events the Manager delivers in the connection's object encoding (type 19
// for AMF0 connections, 16 for AMF3).
package rtmpface

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/shoal-live/shoal/internal/rtmp"
	"github.com/shoal-live/shoal/internal/rtmp/message"
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

// Conn is what the face needs of an RTMP connection; *rtmp.ServerConn has it.
type Conn interface {
	ID() string
	ScopePath() string
	ObjectEncoding() float64
	SendSharedObject(body []byte) error
	Close() error
}

var _ Conn = (*rtmp.ServerConn)(nil)

// Face serves the shared objects of every RTMP connection of a node.
type Face struct {
	objects objects
	logger  *slog.Logger
	ctx     context.Context

	mu    sync.Mutex
	conns map[Conn]*listener // guarded by mu

	enc encCache
}

// encCache holds the last message encoded in each object encoding. The
// Manager hands every listener but the requester the same events slice for
// a batch, so the listeners after the first reuse its encoding. An entry
// keeps its events slice, so a slice at the same address is the same
// slice, with the same events (listeners must not modify them).
type encCache struct {
	mu      sync.Mutex
	entries [2]encEntry // AMF0, AMF3
}

type encEntry struct {
	obj     sharedobject.ObjectID
	version uint64
	events  []sharedobject.Event
	body    []byte
}

func (e *encEntry) matches(obj sharedobject.ObjectID, version uint64, events []sharedobject.Event) bool {
	return len(events) > 0 && len(e.events) == len(events) && &e.events[0] == &events[0] &&
		e.version == version && e.obj == obj
}

// body returns the message of a batch's events in the given encoding,
// encoding it unless it was the last one encoded.
func (c *encCache) body(obj sharedobject.ObjectID, version uint64, events []sharedobject.Event, amf3 bool) ([]byte, error) {
	i := 0
	if amf3 {
		i = 1
	}
	c.mu.Lock()
	e := &c.entries[i]
	if e.matches(obj, version, events) {
		b := e.body
		c.mu.Unlock()
		return b, nil
	}
	c.mu.Unlock()
	msg := somsg.Message{Name: obj.Name, Version: uint32(version), Persistent: obj.Persistent, Events: events}
	b, err := somsg.Append(nil, &msg, amf3)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	*e = encEntry{obj: obj, version: version, events: events, body: b}
	c.mu.Unlock()
	return b, nil
}

// New returns a Face. ctx bounds the Manager calls it makes (the node's
// lifetime).
func New(ctx context.Context, m objects, logger *slog.Logger) *Face {
	return &Face{objects: m, logger: logger, ctx: ctx, conns: map[Conn]*listener{}}
}

// listener is one RTMP connection as a client of shared objects.
type listener struct {
	conn   Conn
	info   sharedobject.ConnInfo
	amf3   bool
	logger *slog.Logger

	mu   sync.Mutex
	used map[sharedobject.ObjectID]bool // guarded by mu

	enc *encCache // the Face's
}

func (f *Face) listenerOf(c Conn, remote string) *listener {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.conns[c]
	if l == nil {
		l = &listener{
			conn:   c,
			info:   sharedobject.ConnInfo{ID: c.ID(), RemoteAddr: remote, Transport: "rtmp"},
			amf3:   c.ObjectEncoding() == 3,
			logger: f.logger.With("conn_id", c.ID()),
			used:   map[sharedobject.ObjectID]bool{},
			enc:    &f.enc,
		}
		f.conns[c] = l
	}
	return l
}

// HandleMessage carries out one shared-object message of c. It runs on c's
// read goroutine, so a connection's messages are handled in order. A message
// that cannot be decoded closes the connection.
func (f *Face) HandleMessage(c *rtmp.ServerConn, m *message.SharedObject) {
	f.handle(c, c.RemoteAddr().String(), m)
}

func (f *Face) handle(c Conn, remote string, m *message.SharedObject) {
	l := f.listenerOf(c, remote)
	msg, err := somsg.Decode(m.Body, m.AMF3)
	if err != nil {
		l.logger.Warn("bad shared object message, closing connection", "err", err)
		_ = c.Close()
		return
	}
	id := sharedobject.ObjectID{Scope: c.ScopePath(), Name: msg.Name, Persistent: msg.Persistent}
	var reqs []sharedobject.Request
	flush := func() {
		if len(reqs) == 0 {
			return
		}
		err := f.objects.Submit(f.ctx, id, l, l.info, reqs)
		reqs = reqs[:0]
		switch {
		case errors.Is(err, sharedobject.ErrNotUsed):
			l.logger.Info("shared object request before use", "name", id.Name)
		case err != nil && f.ctx.Err() == nil:
			l.logger.Warn("shared object request failed", "name", id.Name, "err", err)
		}
	}
	for _, ev := range msg.Events {
		switch ev.Type {
		case somsg.Use:
			flush()
			l.mu.Lock()
			already := l.used[id]
			l.used[id] = true
			l.mu.Unlock()
			if already {
				continue
			}
			if err := f.objects.Use(f.ctx, id, l, l.info); err != nil {
				l.mu.Lock()
				delete(l.used, id)
				l.mu.Unlock()
				if f.ctx.Err() == nil {
					l.logger.Warn("shared object use failed", "name", id.Name, "err", err)
				}
			}
		case somsg.Release:
			flush()
			l.mu.Lock()
			was := l.used[id]
			delete(l.used, id)
			l.mu.Unlock()
			if was {
				f.objects.Release(id, l)
			}
		case somsg.RequestChange, somsg.RequestRemove, somsg.SendMessage:
			reqs = append(reqs, ev)
		default:
			l.logger.Debug("shared object event ignored", "name", id.Name, "type", ev.Type.String())
		}
	}
	flush()
}

// Disconnect releases every object c used.
func (f *Face) Disconnect(c *rtmp.ServerConn) { f.disconnect(c) }

func (f *Face) disconnect(c Conn) {
	f.mu.Lock()
	l := f.conns[c]
	delete(f.conns, c)
	f.mu.Unlock()
	if l == nil {
		return
	}
	l.mu.Lock()
	used := l.used
	l.used = map[sharedobject.ObjectID]bool{}
	l.mu.Unlock()
	for id := range used {
		f.objects.Release(id, l)
	}
}

// Deliver implements sharedobject.Listener: one batch of events becomes one
// message in the connection's encoding, encoded once for all the listeners
// that get the same events.
func (l *listener) Deliver(obj sharedobject.ObjectID, version uint64, events []sharedobject.Event) {
	body, err := l.enc.body(obj, version, events, l.amf3)
	if err != nil {
		l.logger.Warn("encode shared object message", "name", obj.Name, "err", err)
		return
	}
	if err := l.conn.SendSharedObject(body); err != nil {
		l.logger.Debug("send shared object message", "name", obj.Name, "err", err)
	}
}
