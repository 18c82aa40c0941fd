package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/shoal-live/shoal/internal/store"
)

// DefaultMissedReports is how many reporting intervals a node may stay
// silent before it is marked FAULT.
const DefaultMissedReports = 3

// Monitor marks INSERVICE nodes that stopped reporting as FAULT. A FAULT
// node that reports again is put back in service by the report endpoint.
type Monitor struct {
	st       *store.Store
	interval time.Duration
	misses   int
	logger   *slog.Logger
}

// NewMonitor returns a monitor for nodes reporting every reportInterval;
// a node silent for misses intervals is FAULT (misses ≤ 0 means
// DefaultMissedReports).
func NewMonitor(st *store.Store, reportInterval time.Duration, misses int, logger *slog.Logger) *Monitor {
	if misses <= 0 {
		misses = DefaultMissedReports
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Monitor{st: st, interval: reportInterval, misses: misses, logger: logger}
}

// Run checks the nodes every half reporting interval until ctx ends.
func (m *Monitor) Run(ctx context.Context) error {
	t := time.NewTicker(m.interval / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if _, err := m.Check(ctx, time.Now()); err != nil && ctx.Err() == nil {
				m.logger.Warn("node monitor check failed", "err", err)
			}
		}
	}
}

// Check marks FAULT every INSERVICE node whose last contact (ping, else
// the time it entered service) is older than the allowed silence at now,
// and returns the nodes it marked.
func (m *Monitor) Check(ctx context.Context, now time.Time) ([]store.Node, error) {
	nodes, err := m.st.Nodes(ctx, store.NodeFilter{States: []store.NodeState{store.NodeInService}})
	if err != nil {
		return nil, err
	}
	deadline := time.Duration(m.misses) * m.interval
	var faulted []store.Node
	for _, n := range nodes {
		last := n.LastPing
		if n.StateChangedAt.After(last) {
			last = n.StateChangedAt
		}
		silent := now.Sub(last)
		if silent <= deadline {
			continue
		}
		reason := fmt.Sprintf("no report for %s (%d reporting intervals of %s)", silent.Round(time.Millisecond), m.misses, m.interval)
		f, err := m.st.SetNodeState(ctx, n.ID, store.NodeFault, reason)
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
			continue // removed or moved on meanwhile
		}
		if err != nil {
			return faulted, err
		}
		m.logger.Warn("node marked fault", "node", n.Identifier, "group", n.Group, "silent", silent.Round(time.Millisecond).String())
		faulted = append(faulted, f)
	}
	return faulted, nil
}
