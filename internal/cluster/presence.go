package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Presence records which nodes have clients of which shared objects, so a
// transient object can be dropped once the last client anywhere has gone.
// Each (object, node) pair is one key of the so_presence bucket with a TTL;
// while the Cluster runs it refreshes the keys this process joined, so the
// keys of a node that dies expire after the TTL. Methods are safe for
// concurrent use.
type Presence struct {
	kv     jetstream.KeyValue
	stream jetstream.Stream // the stream backing kv
	ttl    time.Duration
	logger *slog.Logger

	// infoMu serializes stream.Info, which rewrites the handle's cached
	// info without a lock.
	infoMu sync.Mutex

	mu struct {
		sync.Mutex
		joined map[string]struct{} // presence keys refreshed by run
	}
}

func newPresence(kv jetstream.KeyValue, stream jetstream.Stream, ttl time.Duration, logger *slog.Logger) *Presence {
	p := &Presence{kv: kv, stream: stream, ttl: ttl, logger: logger}
	p.mu.joined = make(map[string]struct{})
	return p
}

// Join records that node has clients of obj, and keeps the record fresh
// until Leave. Joining twice is the same as joining once.
func (p *Presence) Join(ctx context.Context, obj ObjectID, node string) error {
	key := presenceKey(obj, node)
	p.mu.Lock()
	p.mu.joined[key] = struct{}{}
	p.mu.Unlock()
	if _, err := p.kv.Put(ctx, key, nil); err != nil {
		return fmt.Errorf("join %s as %q: %w", obj, node, err)
	}
	return nil
}

// Leave removes node's record for obj at once.
func (p *Presence) Leave(ctx context.Context, obj ObjectID, node string) error {
	key := presenceKey(obj, node)
	p.mu.Lock()
	delete(p.mu.joined, key)
	p.mu.Unlock()
	if err := p.purge(ctx, key); err != nil {
		return fmt.Errorf("leave %s as %q: %w", obj, node, err)
	}
	return nil
}

// purge removes a key with a stream purge, which, unlike a KV delete,
// leaves no marker behind, so Anyone can count subjects.
func (p *Presence) purge(ctx context.Context, key string) error {
	return p.stream.Purge(ctx, jetstream.WithPurgeSubject(kvSubject(PresenceBucket, key)))
}

// Anyone reports whether any node has a live record for obj.
func (p *Presence) Anyone(ctx context.Context, obj ObjectID) (bool, error) {
	info, err := p.info(ctx, kvSubject(PresenceBucket, presenceFilter(obj)))
	if err != nil {
		return false, fmt.Errorf("presence of %s: %w", obj, err)
	}
	return len(info.State.Subjects) > 0, nil
}

// info returns the bucket stream's info with the subjects matching filter.
func (p *Presence) info(ctx context.Context, filter string) (*jetstream.StreamInfo, error) {
	p.infoMu.Lock()
	defer p.infoMu.Unlock()
	return p.stream.Info(ctx, jetstream.WithSubjectFilter(filter))
}

// run refreshes joined keys every TTL/3 until ctx is done.
func (p *Presence) run(ctx context.Context) {
	tick := time.NewTicker(p.ttl / 3)
	defer tick.Stop()
	var keys []string
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		keys = keys[:0]
		p.mu.Lock()
		for k := range p.mu.joined {
			keys = append(keys, k)
		}
		p.mu.Unlock()
		failed := 0
		var lastErr error
		for _, k := range keys {
			rctx, cancel := context.WithTimeout(ctx, p.ttl/3)
			_, err := p.kv.Put(rctx, k, nil)
			cancel()
			if err != nil {
				failed++
				lastErr = err
			}
		}
		// A Leave that raced with the refresh above must still win.
		p.mu.Lock()
		var left []string
		for _, k := range keys {
			if _, ok := p.mu.joined[k]; !ok {
				left = append(left, k)
			}
		}
		p.mu.Unlock()
		for _, k := range left {
			rctx, cancel := context.WithTimeout(ctx, p.ttl/3)
			if err := p.purge(rctx, k); err != nil {
				failed++
				lastErr = err
			}
			cancel()
		}
		if failed > 0 && ctx.Err() == nil {
			p.logger.Warn("refresh presence failed", "failed", failed, "total", len(keys), "error", lastErr)
		}
	}
}
