package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Orphans returns the transient objects whose log has entries, whose
// newest entry is older than olderThan, and that no node has a presence
// key for: objects whose last node died (a node that stops cleanly drops
// them itself), and dropped objects whose log holds only the tombstone
// Drop left. Persistent objects are never listed. The result is sorted by
// subject.
//
// It costs two stream-info requests (every transient subject, every
// transient presence key) plus one last-message request per object without
// presence.
func (l *ObjectLog) Orphans(ctx context.Context, olderThan time.Duration, presence *Presence) ([]ObjectID, error) {
	orphans, err := l.orphans(ctx, olderThan, presence)
	if err != nil {
		return nil, err
	}
	ids := make([]ObjectID, len(orphans))
	for i, o := range orphans {
		ids[i] = o.obj
	}
	return ids, nil
}

// orphan is an object Orphans lists, with the sequence of the newest entry
// it examined.
type orphan struct {
	obj    ObjectID
	newest uint64
}

// orphans is Orphans, with the newest entry of each.
func (l *ObjectLog) orphans(ctx context.Context, olderThan time.Duration, presence *Presence) ([]orphan, error) {
	// A handle of its own: Info rewrites the handle's cached info, which
	// the shared handle's readers (Head) read without a lock.
	s, err := l.js.Stream(ctx, TransientStream)
	if err != nil {
		return nil, fmt.Errorf("list orphans: %w", err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(streamSubjects(false)))
	if err != nil {
		return nil, fmt.Errorf("list orphans: list %s subjects: %w", TransientStream, err)
	}
	if len(info.State.Subjects) == 0 {
		return nil, nil
	}
	present, err := presence.transientSubjects(ctx)
	if err != nil {
		return nil, fmt.Errorf("list orphans: %w", err)
	}
	subjects := make([]string, 0, len(info.State.Subjects))
	for subj := range info.State.Subjects {
		if _, ok := present[subj]; !ok {
			subjects = append(subjects, subj)
		}
	}
	slices.Sort(subjects)
	var orphans []orphan
	for _, subj := range subjects {
		obj, err := ParseObjectSubject(subj)
		if err != nil {
			l.logger.Warn("list orphans: foreign subject in stream", "stream", TransientStream, "subject", subj, "error", err)
			continue
		}
		m, err := s.GetLastMsgForSubject(ctx, subj)
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
			continue // dropped meanwhile
		case err != nil:
			return nil, fmt.Errorf("list orphans: newest entry of %s: %w", obj, err)
		}
		if time.Since(m.Time) < olderThan {
			continue
		}
		orphans = append(orphans, orphan{obj: obj, newest: m.Sequence})
	}
	return orphans, nil
}

// transientSubjects returns the log subjects of the transient objects some
// node has a presence key for.
func (p *Presence) transientSubjects(ctx context.Context) (map[string]struct{}, error) {
	prefix := kvSubject(PresenceBucket, "")
	info, err := p.info(ctx, prefix+transientKind+".>")
	if err != nil {
		return nil, fmt.Errorf("list presence keys: %w", err)
	}
	out := make(map[string]struct{}, len(info.State.Subjects))
	for subj := range info.State.Subjects {
		key, ok := strings.CutPrefix(subj, prefix)
		if !ok {
			continue
		}
		i := strings.LastIndexByte(key, '.')
		if i < 0 {
			continue
		}
		out[subjectPrefix+key[:i]] = struct{}{}
	}
	return out, nil
}

// JanitorConfig configures a Janitor. Zero fields take the defaults named
// in their comments.
type JanitorConfig struct {
	// Linger is how long the shared-object engine keeps a transient object
	// after its last local client leaves (negative counts as 0). An object
	// is dropped only once its newest entry is older than Linger plus the
	// cluster's PresenceTTL, so a node that is merely slow to refresh its
	// presence is not taken for dead.
	Linger time.Duration
	// Interval is the time between sweeps (default the cluster's
	// PresenceTTL).
	Interval time.Duration
	// Loaded returns the objects this node has loaded; they are never
	// dropped, whatever presence says. Nil means none.
	Loaded func() []ObjectID
}

// Janitor drops transient objects whose last node died: with no node left
// using them, no node's engine runs the drop that follows the last
// client's departure, and their entries would stay in SO_TRANSIENT, served
// as stale state to the next client. It also erases the tombstones Drop
// leaves, once they are as old. Every node may run one; sweeping an object
// twice is harmless.
//
// A sweep erases an orphan's entries only up to the newest one it examined
// (ObjectLog.Purge), so a batch a node appends meanwhile survives, and a
// follower that was away gets a Reset record before it. A node that loads
// an orphan just as a sweep erases it (between the sweep's presence check
// and its purge) and appends nothing before the purge keeps the state it
// read, which the log no longer holds.
type Janitor struct {
	log       *ObjectLog
	presence  *Presence
	olderThan time.Duration
	interval  time.Duration
	loaded    func() []ObjectID
	logger    *slog.Logger
}

// NewJanitor returns a Janitor for c, which must have started.
func NewJanitor(c *Cluster, cfg JanitorConfig, logger *slog.Logger) *Janitor {
	interval := cfg.Interval
	if interval <= 0 {
		interval = c.cfg.PresenceTTL
	}
	return &Janitor{
		log:       c.objects,
		presence:  c.presence,
		olderThan: max(cfg.Linger, 0) + c.cfg.PresenceTTL,
		interval:  interval,
		loaded:    cfg.Loaded,
		logger:    logger,
	}
}

// Run sweeps every Interval until ctx is done; then it returns nil. A
// failed sweep is logged and retried at the next one.
func (j *Janitor) Run(ctx context.Context) error {
	tick := time.NewTicker(j.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		sctx, cancel := context.WithTimeout(ctx, j.interval)
		_, err := j.Sweep(sctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			j.logger.Warn("sweep orphaned shared objects", "error", err)
		}
	}
}

// Sweep drops the current orphans (see Orphans) that this node has not
// loaded, checking each one's presence again just before erasing its
// entries up to the newest one Orphans examined, and returns them.
func (j *Janitor) Sweep(ctx context.Context) ([]ObjectID, error) {
	orphans, err := j.log.orphans(ctx, j.olderThan, j.presence)
	if err != nil || len(orphans) == 0 {
		return nil, err
	}
	var loaded map[ObjectID]struct{}
	if j.loaded != nil {
		ids := j.loaded()
		loaded = make(map[ObjectID]struct{}, len(ids))
		for _, id := range ids {
			loaded[id] = struct{}{}
		}
	}
	var dropped []ObjectID
	for _, o := range orphans {
		obj := o.obj
		if _, ok := loaded[obj]; ok {
			continue
		}
		anyone, err := j.presence.Anyone(ctx, obj)
		if err != nil {
			return dropped, fmt.Errorf("sweep: %w", err)
		}
		if anyone {
			continue
		}
		if err := j.log.Purge(ctx, obj, o.newest); err != nil {
			return dropped, fmt.Errorf("sweep: %w", err)
		}
		j.logger.Info("orphaned transient shared object dropped", "object", obj.String(), "up_to_seq", o.newest)
		dropped = append(dropped, obj)
	}
	return dropped, nil
}
