package api

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoal-live/shoal/internal/store"
)

// Action is what a client wants to do with a stream.
type Action string

// Actions of the event endpoint.
const (
	ActionBroadcast Action = "broadcast"
	ActionSubscribe Action = "subscribe"
)

// Query asks for nodes for one client.
type Query struct {
	Action Action
	// Scope is the stream's scope without leading or trailing slashes.
	Scope string
	Name  string
	// Region is preferred; with Strict it is required.
	Region string
	Strict bool
	// Group restricts the choice to one group (Shoal's addition).
	Group string
	// Endpoints is how many nodes to return at most (≥ 1).
	Endpoints int
}

// Weights weigh the metrics that score a node; the node with the lowest
// weighted load wins. They mirror Red5 Pro's instanceevaluator.*.metricweight.
type Weights struct {
	// Streams weighs the streams a node carries.
	Streams float64
	// Connections weighs all clients, relative to the node's capacity.
	Connections float64
	// Subscribers weighs players, relative to the node's capacity.
	Subscribers float64
	// Memory weighs memory in use.
	Memory float64
}

// DefaultWeights returns Red5 Pro's default metric weights.
func DefaultWeights() Weights {
	return Weights{Streams: 30, Connections: 15, Subscribers: 60, Memory: 20}
}

// Selector chooses nodes for publishers and subscribers from an in-memory
// index of nodes, their latest loads and the streams they publish, so a
// lookup never touches the database.
//
// The index follows the store: a lookup that sees store.NodesVersion move
// reloads the nodes first (so a node drained or terminated by this process
// is never chosen after the change is written), reports are fed in by
// Observe, and Run reloads everything periodically for changes made by
// other managers sharing a PostgreSQL database.
//
// Between two reports of a node, every client sent to it is counted as
// pending load, so a burst of lookups spreads over nodes instead of
// piling onto the one that looked idlest at the last report.
type Selector struct {
	st              *store.Store
	weights         Weights
	refreshInterval time.Duration
	logger          *slog.Logger
	rr              atomic.Uint64 // rotates among equally good nodes

	// reloadMu serialises reloads from the store.
	reloadMu sync.Mutex
	// version is the store.NodesVersion the index reflects; loaded is
	// false until the first full reload.
	version atomic.Uint64
	loaded  atomic.Bool

	// Lock order: reloadMu before mu.
	mu  sync.RWMutex
	idx index // guarded by mu
}

// index is the selector's view of the cluster.
type index struct {
	nodes  map[int64]*entry
	groups map[string]store.NodeGroup
	// eligible are the nodes that may get new clients (INSERVICE, not
	// draining, group not deleting), by group and role.
	eligible map[groupRole][]*entry
	// publishers are the eligible origin and allinone nodes of all groups.
	publishers []*entry
	// streams maps a published stream to the node that publishes it.
	streams map[streamKey]*entry
}

type groupRole struct {
	group string
	role  store.Role
}

type streamKey struct{ scope, name string }

// entry is one node with its latest load.
type entry struct {
	node        store.Node
	reportAt    time.Time
	streams     int
	connections int
	subscribers int
	memory      int64
	published   []streamKey
	// pending counts clients and streams sent to the node since its last
	// report.
	pendingConns   atomic.Int64
	pendingStreams atomic.Int64
}

func (e *entry) eligible(groups map[string]store.NodeGroup) bool {
	return e.node.State == store.NodeInService && !e.node.Draining && groups[e.node.Group].State != store.GroupDeleting
}

// NewSelector returns a selector over st. refreshInterval is how often Run
// reloads the index from the store (default 5s).
func NewSelector(st *store.Store, w Weights, refreshInterval time.Duration, logger *slog.Logger) *Selector {
	if refreshInterval <= 0 {
		refreshInterval = 5 * time.Second
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Selector{
		st: st, weights: w, refreshInterval: refreshInterval, logger: logger,
		idx: index{nodes: map[int64]*entry{}, groups: map[string]store.NodeGroup{}, eligible: map[groupRole][]*entry{}, streams: map[streamKey]*entry{}},
	}
}

// Run reloads the index every refresh interval until ctx ends.
func (s *Selector) Run(ctx context.Context) error {
	t := time.NewTicker(s.refreshInterval)
	defer t.Stop()
	for {
		if err := s.Refresh(ctx); err != nil && ctx.Err() == nil {
			s.logger.Warn("selector refresh failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Refresh reloads nodes, groups, reports and published streams from the
// store.
func (s *Selector) Refresh(ctx context.Context) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	return s.reload(ctx, true)
}

// sync reloads the nodes if this process changed any since the last load.
func (s *Selector) sync(ctx context.Context) {
	if s.loaded.Load() && s.version.Load() == s.st.NodesVersion() {
		return
	}
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if s.loaded.Load() && s.version.Load() == s.st.NodesVersion() {
		return // another caller reloaded
	}
	if err := s.reload(ctx, !s.loaded.Load()); err != nil {
		// Serve from the previous index; the next lookup retries.
		s.logger.Warn("selector reload failed", "err", err)
	}
}

// reload rebuilds the index from the store; with loads it also replaces
// the loads and published streams, otherwise it keeps them. Callers hold
// reloadMu.
func (s *Selector) reload(ctx context.Context, loads bool) error {
	version := s.st.NodesVersion() // read first: a change during the load triggers another
	nodes, err := s.st.Nodes(ctx, store.NodeFilter{})
	if err != nil {
		return err
	}
	groups, err := s.st.Groups(ctx)
	if err != nil {
		return err
	}
	var reports []store.Report
	var streams []store.Stream
	if loads {
		if reports, err = s.st.Reports(ctx, ""); err != nil {
			return err
		}
		if streams, err = s.st.Streams(ctx, store.StreamFilter{Role: store.StreamOrigin}); err != nil {
			return err
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.idx
	idx := index{
		nodes:    make(map[int64]*entry, len(nodes)),
		groups:   make(map[string]store.NodeGroup, len(groups)),
		eligible: map[groupRole][]*entry{},
		streams:  make(map[streamKey]*entry, len(old.streams)),
	}
	for _, g := range groups {
		idx.groups[g.Name] = g
	}
	for _, n := range nodes {
		e := old.nodes[n.ID]
		if e == nil {
			e = &entry{}
		}
		e.node = n
		idx.nodes[n.ID] = e
		if e.eligible(idx.groups) {
			k := groupRole{n.Group, n.Role}
			idx.eligible[k] = append(idx.eligible[k], e)
			if n.Role.Publishes() {
				idx.publishers = append(idx.publishers, e)
			}
		}
	}
	if loads {
		for _, e := range idx.nodes {
			e.published = e.published[:0]
		}
		for _, r := range reports {
			if e := idx.nodes[r.NodeID]; e != nil {
				e.setLoad(r)
			}
		}
		for _, st := range streams {
			if e := idx.nodes[st.NodeID]; e != nil {
				k := streamKey{st.Scope, st.Name}
				e.published = append(e.published, k)
				idx.claim(k, e)
			}
		}
	} else {
		for k, e := range old.streams {
			if idx.nodes[e.node.ID] == e {
				idx.streams[k] = e
			}
		}
	}
	s.idx = idx
	s.version.Store(version)
	s.loaded.Store(true)
	return nil
}

// claim records e as the publisher of k unless an in-service node that
// reported more recently already claims it.
func (x *index) claim(k streamKey, e *entry) {
	if cur := x.streams[k]; cur != nil && cur != e && cur.node.State == store.NodeInService && cur.reportAt.After(e.reportAt) {
		return
	}
	x.streams[k] = e
}

func (e *entry) setLoad(r store.Report) {
	if r.At.After(e.reportAt) {
		e.pendingConns.Store(0)
		e.pendingStreams.Store(0)
	}
	e.reportAt = r.At
	e.streams = r.StreamCount
	if len(r.Streams) > 0 {
		e.streams = len(r.Streams)
	}
	e.connections, e.subscribers, e.memory = r.Connections, r.Subscribers, r.MemoryBytes
}

// Observe feeds a node's latest report, with its streams, into the index.
func (s *Selector) Observe(ctx context.Context, nodeID int64, r store.Report) {
	s.sync(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.idx.nodes[nodeID]
	if e == nil {
		return // unknown node: the next reload brings it with its streams
	}
	e.setLoad(r)
	for _, k := range e.published {
		if s.idx.streams[k] == e {
			delete(s.idx.streams, k)
		}
	}
	e.published = e.published[:0]
	for _, st := range r.Streams {
		if st.Publishing {
			k := streamKey{st.Scope, st.Name}
			e.published = append(e.published, k)
			s.idx.claim(k, e)
		}
	}
}

// Origin returns the in-service node that publishes scope/name.
func (s *Selector) Origin(ctx context.Context, scope, name string) (store.Node, error) {
	s.sync(ctx)
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := s.idx.streams[streamKey{scope, name}]
	if e == nil || e.node.State != store.NodeInService {
		return store.Node{}, fmt.Errorf("stream %s/%s is not published: %w", scope, name, store.ErrNotFound)
	}
	return e.node, nil
}

// Select returns up to q.Endpoints nodes for q, best first.
//
// Broadcast: the in-service origin already publishing the stream if any
// (a reconnecting publisher returns to it), otherwise the least loaded
// eligible origin or allinone node. Subscribe: the least loaded eligible
// edge of the group of the stream's origin, or the origin itself when it
// is an allinone node and the group has no eligible edge.
//
// Errors wrap store.ErrNotFound (no group, stream not published) or
// errNoNodeInService.
func (s *Selector) Select(ctx context.Context, q Query) ([]store.Node, error) {
	if q.Endpoints < 1 {
		q.Endpoints = 1
	}
	s.sync(ctx)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.idx.groups) == 0 {
		return nil, fmt.Errorf("no node group: %w", store.ErrNotFound)
	}
	if q.Group != "" {
		if _, ok := s.idx.groups[q.Group]; !ok {
			return nil, fmt.Errorf("node group %s: %w", q.Group, store.ErrNotFound)
		}
	}
	holder := s.idx.streams[streamKey{q.Scope, q.Name}]
	if holder != nil && (holder.node.State != store.NodeInService || (q.Group != "" && holder.node.Group != q.Group)) {
		holder = nil
	}
	switch q.Action {
	case ActionBroadcast:
		if holder != nil && holder.eligible(s.idx.groups) {
			return []store.Node{holder.node}, nil
		}
		cands := s.idx.publishers
		if q.Group != "" {
			cands = s.groupPublishers(q.Group)
		}
		return s.pick(cands, q, true)
	case ActionSubscribe:
		if holder == nil {
			return nil, fmt.Errorf("stream %s/%s is not published: %w", q.Scope, q.Name, store.ErrNotFound)
		}
		edges := s.idx.eligible[groupRole{holder.node.Group, store.RoleEdge}]
		if len(edges) == 0 && holder.node.Role == store.RoleAllInOne && holder.eligible(s.idx.groups) {
			edges = []*entry{holder}
		}
		if len(edges) == 0 {
			return nil, fmt.Errorf("no edge in service in group %s: %w", holder.node.Group, errNoNodeInService)
		}
		return s.pick(edges, q, false)
	default:
		return nil, badRequest("action: must be broadcast or subscribe, got %q", q.Action)
	}
}

func (s *Selector) groupPublishers(group string) []*entry {
	a := s.idx.eligible[groupRole{group, store.RoleOrigin}]
	b := s.idx.eligible[groupRole{group, store.RoleAllInOne}]
	if len(b) == 0 {
		return a
	}
	return append(slices.Clip(a), b...)
}

// maxima are the largest loads among candidates, for normalising.
type maxima struct {
	streams, connections, subscribers, memory float64
}

// pick scores cands and returns the q.Endpoints best. Called with mu held
// for reading.
func (s *Selector) pick(cands []*entry, q Query, broadcast bool) ([]store.Node, error) {
	inRegion := func(*entry) bool { return true }
	if q.Region != "" {
		has := false
		for _, e := range cands {
			if e.node.Region == q.Region {
				has = true
				break
			}
		}
		switch {
		case has:
			inRegion = func(e *entry) bool { return e.node.Region == q.Region }
		case q.Strict:
			return nil, fmt.Errorf("no node in service in region %s: %w", q.Region, errNoNodeInService)
		}
	}
	var m maxima
	n := 0
	for _, e := range cands {
		if !inRegion(e) {
			continue
		}
		n++
		m.streams = math.Max(m.streams, float64(e.streams)+float64(e.pendingStreams.Load()))
		m.connections = math.Max(m.connections, float64(e.connections)+float64(e.pendingConns.Load()))
		m.subscribers = math.Max(m.subscribers, float64(e.subscribers)+float64(e.pendingConns.Load()))
		m.memory = math.Max(m.memory, float64(e.memory))
	}
	if n == 0 {
		return nil, fmt.Errorf("no node in service: %w", errNoNodeInService)
	}
	var chosen *entry
	var out []store.Node
	if q.Endpoints == 1 {
		chosen = s.best(cands, inRegion, m)
		out = []store.Node{chosen.node}
	} else {
		type scored struct {
			e     *entry
			score float64
		}
		all := make([]scored, 0, n)
		for _, e := range cands {
			if inRegion(e) {
				all = append(all, scored{e, s.score(e, m)})
			}
		}
		slices.SortStableFunc(all, func(a, b scored) int { return cmpFloat(a.score, b.score) })
		for i := 0; i < len(all) && i < q.Endpoints; i++ {
			out = append(out, all[i].e.node)
		}
		chosen = all[0].e
	}
	chosen.pendingConns.Add(1)
	if broadcast {
		chosen.pendingStreams.Add(1)
	}
	return out, nil
}

// best returns the lowest-scored candidate, rotating among ties. Scores
// are computed once: other requests change the pending counts they depend
// on while this one runs.
func (s *Selector) best(cands []*entry, ok func(*entry) bool, m maxima) *entry {
	const eps = 1e-9
	var buf [128]float64
	scores := buf[:0]
	if len(cands) > len(buf) {
		scores = make([]float64, 0, len(cands))
	}
	var first *entry
	bestScore, ties := math.Inf(1), 0
	for _, e := range cands {
		sc := math.NaN()
		if ok(e) {
			sc = s.score(e, m)
			if first == nil {
				first = e
			}
			switch {
			case sc < bestScore-eps:
				bestScore, ties = sc, 1
			case sc <= bestScore+eps:
				ties++
			}
		}
		scores = append(scores, sc)
	}
	if ties == 0 {
		return first // every score was NaN
	}
	want := int(s.rr.Add(1) % uint64(ties))
	for i, e := range cands {
		if scores[i] <= bestScore+eps { // false for NaN, so for candidates not ok
			if want == 0 {
				return e
			}
			want--
		}
	}
	return first
}

// score is the weighted load of e; lower is better. Connections and
// subscribers count relative to the node's capacity when it has one,
// otherwise relative to the busiest candidate, like streams and memory.
func (s *Selector) score(e *entry, m maxima) float64 {
	pc := float64(e.pendingConns.Load())
	conns := float64(e.connections) + pc
	subs := float64(e.subscribers) + pc
	streams := float64(e.streams) + float64(e.pendingStreams.Load())
	w := s.weights
	return w.Streams*ratio(streams, m.streams) +
		w.Connections*capRatio(conns, e.node.Capacity, m.connections) +
		w.Subscribers*capRatio(subs, e.node.Capacity, m.subscribers) +
		w.Memory*ratio(float64(e.memory), m.memory)
}

func ratio(v, max float64) float64 {
	if max <= 0 {
		return 0
	}
	return v / max
}

func capRatio(v float64, capacity int, max float64) float64 {
	if capacity > 0 {
		return v / float64(capacity)
	}
	return ratio(v, max)
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
