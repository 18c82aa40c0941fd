package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// asyncPublisher pipelines JetStream publishes on one connection: each
// publish carries a reply subject "<prefix><id>" and one wildcard
// subscription receives every acknowledgement. Unlike the library's
// PublishAsync it calls a callback (no goroutine or channel per message)
// and never republishes, so the order of publishes is the order of calls.
type asyncPublisher struct {
	nc     *nats.Conn
	prefix string        // reply subject prefix, ends with '.'
	slots  chan struct{} // one token per unacknowledged publish: the in-flight bound
	start  time.Time     // origin of the monotonic clock in pendingAppend.sent
	logger *slog.Logger
	sub    *nats.Subscription
	// acked, if set, is told of every acknowledged publish, with the
	// stream its caller named.
	acked func(stream string, seq uint64)

	mu struct {
		sync.Mutex
		next    uint64
		pending map[uint64]pendingAppend
		closed  bool
	}
}

type pendingAppend struct {
	done   func(uint64, error)
	stream string        // for acked
	sent   time.Duration // since start
}

func newAsyncPublisher(nc *nats.Conn, maxPending int, acked func(stream string, seq uint64), logger *slog.Logger) (*asyncPublisher, error) {
	p := &asyncPublisher{
		acked:  acked,
		nc:     nc,
		prefix: nc.NewInbox() + ".",
		slots:  make(chan struct{}, maxPending),
		start:  time.Now(),
		logger: logger,
	}
	p.mu.pending = make(map[uint64]pendingAppend)
	sub, err := nc.Subscribe(p.prefix+"*", p.handleAck)
	if err != nil {
		return nil, fmt.Errorf("subscribe to acknowledgements: %w", err)
	}
	// The server may burst acks faster than callbacks run; never drop one.
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return nil, fmt.Errorf("subscribe to acknowledgements: %w", err)
	}
	p.sub = sub
	return p, nil
}

func (p *asyncPublisher) publish(ctx context.Context, subject, stream string, data []byte, done func(uint64, error)) error {
	select {
	case p.slots <- struct{}{}:
	default:
		select {
		case p.slots <- struct{}{}:
		case <-ctx.Done():
			return fmt.Errorf("wait for a free append slot: %w", ctx.Err())
		}
	}
	p.mu.Lock()
	if p.mu.closed {
		p.mu.Unlock()
		<-p.slots
		return ErrClosed
	}
	id := p.mu.next
	p.mu.next++
	p.mu.pending[id] = pendingAppend{done: done, stream: stream, sent: time.Since(p.start)}
	p.mu.Unlock()

	var buf [64]byte
	reply := string(strconv.AppendUint(append(buf[:0], p.prefix...), id, 36))
	if err := p.nc.PublishRequest(subject, reply, data); err != nil {
		if p.take(id) {
			<-p.slots
		}
		if errIsClosed(err) {
			return ErrClosed
		}
		return err
	}
	return nil
}

// take removes a pending append, reporting whether it was still pending.
func (p *asyncPublisher) take(id uint64) bool {
	p.mu.Lock()
	_, ok := p.mu.pending[id]
	delete(p.mu.pending, id)
	p.mu.Unlock()
	return ok
}

func (p *asyncPublisher) handleAck(m *nats.Msg) {
	id, err := strconv.ParseUint(m.Subject[len(p.prefix):], 36, 64)
	if err != nil {
		return
	}
	p.mu.Lock()
	pa, ok := p.mu.pending[id]
	delete(p.mu.pending, id)
	p.mu.Unlock()
	if !ok {
		return // timed out already
	}
	<-p.slots
	seq, err := parsePubAck(m)
	if err == nil && p.acked != nil {
		p.acked(pa.stream, seq)
	}
	pa.done(seq, err)
}

var (
	ackErrorKey = []byte(`"error"`)
	ackSeqKey   = []byte(`"seq":`)
)

// parsePubAck reads a JetStream publish acknowledgement without reflection
// on the fast path: {"stream":"S","seq":N[,...]}.
func parsePubAck(m *nats.Msg) (uint64, error) {
	data := m.Data
	if len(data) == 0 {
		if m.Header.Get("Status") == "503" {
			return 0, jetstream.ErrNoStreamResponse
		}
		return 0, fmt.Errorf("empty acknowledgement: %w", jetstream.ErrInvalidJSAck)
	}
	if bytes.Contains(data, ackErrorKey) {
		var resp struct {
			Error *jetstream.APIError `json:"error"`
		}
		if err := json.Unmarshal(data, &resp); err != nil || resp.Error == nil {
			return 0, fmt.Errorf("acknowledgement %q: %w", data, jetstream.ErrInvalidJSAck)
		}
		return 0, fmt.Errorf("nats: %w", resp.Error)
	}
	i := bytes.Index(data, ackSeqKey)
	if i < 0 {
		return 0, fmt.Errorf("acknowledgement %q: %w", data, jetstream.ErrInvalidJSAck)
	}
	var seq uint64
	digits := 0
	for _, c := range data[i+len(ackSeqKey):] {
		if c < '0' || c > '9' {
			break
		}
		seq = seq*10 + uint64(c-'0')
		digits++
	}
	if digits == 0 || seq == 0 {
		return 0, fmt.Errorf("acknowledgement %q: %w", data, jetstream.ErrInvalidJSAck)
	}
	return seq, nil
}

// run fails appends not acknowledged within timeout, until ctx is done.
func (p *asyncPublisher) run(ctx context.Context, timeout time.Duration) {
	tick := time.NewTicker(min(timeout/4, time.Second))
	defer tick.Stop()
	var expired []func(uint64, error)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Since(p.start)
		expired = expired[:0]
		p.mu.Lock()
		for id, pa := range p.mu.pending {
			if now-pa.sent >= timeout {
				delete(p.mu.pending, id)
				expired = append(expired, pa.done)
			}
		}
		p.mu.Unlock()
		for _, done := range expired {
			<-p.slots
			done(0, ErrAckTimeout)
		}
		if len(expired) > 0 {
			p.logger.Warn("appends not acknowledged in time", "count", len(expired), "timeout", timeout)
		}
	}
}

// close refuses new appends and waits up to wait for pending ones to be
// acknowledged.
func (p *asyncPublisher) close(wait time.Duration) {
	p.mu.Lock()
	p.mu.closed = true
	p.mu.Unlock()
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		n := len(p.mu.pending)
		p.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// failAll fails every pending append with err.
func (p *asyncPublisher) failAll(err error) {
	p.mu.Lock()
	p.mu.closed = true
	pending := p.mu.pending
	p.mu.pending = make(map[uint64]pendingAppend)
	p.mu.Unlock()
	for _, pa := range pending {
		<-p.slots
		pa.done(0, err)
	}
}

// errIsClosed reports whether err means the connection is gone for good.
func errIsClosed(err error) bool {
	return errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrConnectionDraining)
}
