package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// resources are the JetStream objects a Cluster uses.
type resources struct {
	streams  map[string]jetstream.Stream // object streams by name
	kv       jetstream.KeyValue          // presence bucket
	kvStream jetstream.Stream            // the stream backing kv
}

// JetStream API timeouts. Creating a replicated stream elects its own Raft
// group, which takes seconds on a loaded machine.
const (
	probeTimeout  = time.Second
	infoTimeout   = 3 * time.Second
	createTimeout = 15 * time.Second
)

// ensure creates (or updates, if their settings changed) both object streams
// and the presence bucket, retrying while JetStream is not yet available (a
// NATS cluster electing its meta leader) until ctx is done.
func (c *Cluster) ensure(ctx context.Context) (resources, error) {
	for attempt := 0; ; attempt++ {
		res, err := c.ensureOnce(ctx)
		if err == nil {
			return res, nil
		}
		if attempt == 0 {
			c.logger.Debug("create streams failed, retrying", "error", err)
		}
		select {
		case <-ctx.Done():
			return resources{}, fmt.Errorf("create streams: %w (last error: %w)", ctx.Err(), err)
		case <-time.After(min(backoff(attempt), time.Second)):
		}
	}
}

func (c *Cluster) ensureOnce(ctx context.Context) (resources, error) {
	// JetStream answers API requests only once a NATS cluster has a meta
	// leader; probe cheaply before the slower calls.
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	_, err := c.js.AccountInfo(pctx)
	cancel()
	if err != nil {
		return resources{}, fmt.Errorf("probe jetstream: %w", err)
	}
	res := resources{streams: make(map[string]jetstream.Stream, 2)}
	for _, persistent := range []bool{true, false} {
		cfg := objectStreamConfig(persistent, c.cfg.Replicas, c.cfg.MaxMsgSize)
		s, err := c.ensureStream(ctx, cfg, func(ctx context.Context) (jetstream.Stream, error) {
			return c.js.CreateStream(ctx, cfg)
		}, func(ctx context.Context) error {
			_, err := c.js.UpdateStream(ctx, cfg)
			return err
		})
		if err != nil {
			return resources{}, err
		}
		res.streams[cfg.Name] = s
	}
	kvCfg := jetstream.KeyValueConfig{
		Bucket:      PresenceBucket,
		Description: "shared-object presence: one key per (object, node) with a TTL",
		History:     1,
		TTL:         c.cfg.PresenceTTL,
		Storage:     jetstream.MemoryStorage,
		Replicas:    c.cfg.Replicas,
	}
	want := jetstream.StreamConfig{Name: kvStream(PresenceBucket), MaxAge: kvCfg.TTL, Replicas: kvCfg.Replicas}
	res.kvStream, err = c.ensureStream(ctx, want, func(ctx context.Context) (jetstream.Stream, error) {
		if _, err := c.js.CreateKeyValue(ctx, kvCfg); err != nil {
			return nil, err
		}
		return c.js.Stream(ctx, want.Name)
	}, func(ctx context.Context) error {
		_, err := c.js.UpdateKeyValue(ctx, kvCfg)
		return err
	})
	if err != nil {
		return resources{}, err
	}
	ictx, cancel := context.WithTimeout(ctx, infoTimeout)
	defer cancel()
	if res.kv, err = c.js.KeyValue(ictx, PresenceBucket); err != nil {
		return resources{}, fmt.Errorf("look up kv bucket %s: %w", PresenceBucket, err)
	}
	return res, nil
}

// ensureStream makes the stream named want.Name exist with want's
// settings. It only reads when the stream is already as wanted (the common
// case, and cheap when every node of a cluster starts at once); it creates
// a missing stream (concurrent identical creates are idempotent) and
// updates one whose settings differ.
func (c *Cluster) ensureStream(ctx context.Context, want jetstream.StreamConfig,
	create func(context.Context) (jetstream.Stream, error), update func(context.Context) error,
) (jetstream.Stream, error) {
	ictx, cancel := context.WithTimeout(ctx, infoTimeout)
	s, err := c.js.Stream(ictx, want.Name)
	cancel()
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		cctx, ccancel := context.WithTimeout(ctx, createTimeout)
		defer ccancel()
		created, err := create(cctx)
		if err != nil {
			return nil, fmt.Errorf("create stream %s: %w", want.Name, err)
		}
		c.logger.Info("stream created", "stream", want.Name, "replicas", want.Replicas)
		return created, nil
	case err != nil:
		return nil, fmt.Errorf("look up stream %s: %w", want.Name, err)
	}
	have := s.CachedInfo().Config
	if streamSettingsEqual(have, want) {
		return s, nil
	}
	uctx, cancel := context.WithTimeout(ctx, createTimeout)
	defer cancel()
	if err := update(uctx); err != nil {
		return nil, fmt.Errorf("update stream %s: %w", want.Name, err)
	}
	c.logger.Info("stream updated", "stream", want.Name, "replicas", want.Replicas)
	ictx, cancel = context.WithTimeout(ctx, infoTimeout)
	defer cancel()
	if s, err = c.js.Stream(ictx, want.Name); err != nil {
		return nil, fmt.Errorf("look up stream %s: %w", want.Name, err)
	}
	return s, nil
}

// streamSettingsEqual reports whether have already has the settings want
// sets (zero fields of want are not compared).
func streamSettingsEqual(have, want jetstream.StreamConfig) bool {
	return (want.Subjects == nil || slices.Equal(have.Subjects, want.Subjects)) &&
		(want.Replicas == 0 || have.Replicas == want.Replicas) &&
		(want.MaxAge == 0 || have.MaxAge == want.MaxAge) &&
		(want.MaxMsgSize == 0 || have.MaxMsgSize == want.MaxMsgSize) &&
		(want.Duplicates == 0 || have.Duplicates == want.Duplicates) &&
		(!want.AllowRollup || have.AllowRollup) &&
		(want.Discard == 0 || have.Discard == want.Discard) &&
		(want.MaxMsgsPerSubject == 0 || have.MaxMsgsPerSubject == want.MaxMsgsPerSubject)
}

// objectStreamConfig returns the stream holding persistent or transient
// object logs.
func objectStreamConfig(persistent bool, replicas int, maxMsgSize int32) jetstream.StreamConfig {
	cfg := jetstream.StreamConfig{
		Subjects:          []string{streamSubjects(persistent)},
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardNew, // refuse rather than silently drop old batches
		MaxMsgsPerSubject: -1,
		MaxMsgSize:        maxMsgSize + headerRoom,
		Replicas:          replicas,
		AllowRollup:       true,
		Duplicates:        10 * time.Second,
	}
	if persistent {
		cfg.Name = PersistentStream
		cfg.Description = "shared-object change logs, persistent objects"
		cfg.Storage = jetstream.FileStorage
	} else {
		cfg.Name = TransientStream
		cfg.Description = "shared-object change logs, transient objects"
		cfg.Storage = jetstream.MemoryStorage
	}
	return cfg
}
