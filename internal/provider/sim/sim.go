// Package sim is a cloud bridge with simulated instances in virtual time,
// for the autoscaler's tests and the trace simulator (shoal sim).
//
// Nothing runs: an instance's state is computed from the clock whenever it
// is read, so the provider works the same under a clock the caller advances
// by hand and under real time inside a testing/synctest bubble, and it has no
// goroutines to stop.
//
//	Create ──▶ Pending ──BootDelay──▶ Running ──Delete──▶ (gone)
//	              └──failed launch: stays Pending until deleted
//
// A fraction of launches (FailureRate, drawn from a seeded generator, so
// runs repeat) never come up, which is what the manager's ping deadline is
// for. The provider also counts node time per role, including deleted
// instances, which is what a cloud bill is made of.
package sim

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/shoal-live/shoal/internal/provider"
)

var _ provider.Provider = (*Provider)(nil)

// Config configures the simulated cloud.
type Config struct {
	// BootDelay is how long an instance stays Pending before Running.
	BootDelay time.Duration
	// FailureRate is the fraction of launches (0 to 1) that never come up.
	FailureRate float64
	// Seed seeds the generator that picks failed launches.
	Seed uint64
	// Now is the clock; nil means time.Now (fake inside synctest).
	Now func() time.Time
}

// Provider simulates instances. It is safe for concurrent use.
type Provider struct {
	boot        time.Duration
	failureRate float64
	now         func() time.Time

	mu      sync.Mutex
	rng     *rand.Rand
	seq     int
	insts   map[string]*instance
	retired map[string]time.Duration // node time of deleted instances, by role
	stats   Stats
}

type instance struct {
	seq    int
	inst   provider.Instance // State unset; computed by stateAt
	failed bool
}

// Stats counts what happened to the provider's instances.
type Stats struct {
	// Created is the number of successful Create calls.
	Created int
	// Deleted is the number of successful Delete calls.
	Deleted int
	// FailedLaunches is how many created instances were chosen never to
	// come up.
	FailedLaunches int
}

// RoleCount is how many live instances of one role are in each state.
type RoleCount struct {
	Pending int
	Running int
}

// New returns a simulated cloud with no instances.
func New(cfg Config) *Provider {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Provider{
		boot:        max(cfg.BootDelay, 0),
		failureRate: min(max(cfg.FailureRate, 0), 1),
		now:         now,
		rng:         rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		insts:       make(map[string]*instance),
		retired:     make(map[string]time.Duration),
	}
}

// Create adds a Pending instance; it turns Running after the boot delay
// unless it was drawn as a failed launch.
func (p *Provider) Create(ctx context.Context, spec provider.Spec) (provider.Instance, error) {
	if err := ctx.Err(); err != nil {
		return provider.Instance{}, fmt.Errorf("create sim instance: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	in := &instance{
		seq: p.seq,
		inst: provider.Instance{
			ID:        "sim-" + strconv.Itoa(p.seq),
			Spec:      cloneSpec(spec),
			Address:   "10.0.0." + strconv.Itoa(p.seq%250+1),
			CreatedAt: p.now(),
			Metadata:  maps.Clone(spec.Metadata),
		},
	}
	if p.failureRate > 0 && p.rng.Float64() < p.failureRate {
		in.failed = true
		p.stats.FailedLaunches++
	}
	p.insts[in.inst.ID] = in
	p.stats.Created++
	return p.instanceLocked(in, in.inst.CreatedAt), nil
}

// Delete removes the instance at once and adds its lifetime to the node
// time of its role.
func (p *Provider) Delete(_ context.Context, id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	in, ok := p.insts[id]
	if !ok {
		return fmt.Errorf("delete sim instance %s: %w", id, provider.ErrNotFound)
	}
	p.retired[in.inst.Spec.Role] += p.now().Sub(in.inst.CreatedAt)
	delete(p.insts, id)
	p.stats.Deleted++
	return nil
}

// Get returns one instance with its state at the current time.
func (p *Provider) Get(_ context.Context, id string) (provider.Instance, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	in, ok := p.insts[id]
	if !ok {
		return provider.Instance{}, fmt.Errorf("get sim instance %s: %w", id, provider.ErrNotFound)
	}
	return p.instanceLocked(in, p.now()), nil
}

// List returns every instance in creation order.
func (p *Provider) List(_ context.Context) ([]provider.Instance, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	ins := slices.SortedFunc(maps.Values(p.insts), func(a, b *instance) int { return a.seq - b.seq })
	out := make([]provider.Instance, len(ins))
	for i, in := range ins {
		out[i] = p.instanceLocked(in, now)
	}
	return out, nil
}

// UpdateMetadata merges md into the instance's metadata.
func (p *Provider) UpdateMetadata(_ context.Context, id string, md map[string]string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	in, ok := p.insts[id]
	if !ok {
		return fmt.Errorf("update sim instance %s metadata: %w", id, provider.ErrNotFound)
	}
	in.inst.Metadata = provider.MergeMetadata(in.inst.Metadata, md)
	return nil
}

// ReadyAt returns when the instance turns (or turned) Running; false for an
// unknown instance or a failed launch.
func (p *Provider) ReadyAt(id string) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	in, ok := p.insts[id]
	if !ok || in.failed {
		return time.Time{}, false
	}
	return in.inst.CreatedAt.Add(p.boot), true
}

// Counts returns how many live instances each role has, by state.
func (p *Provider) Counts() map[string]RoleCount {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	out := make(map[string]RoleCount)
	for _, in := range p.insts {
		c := out[in.inst.Spec.Role]
		if p.stateAt(in, now) == provider.StateRunning {
			c.Running++
		} else {
			c.Pending++
		}
		out[in.inst.Spec.Role] = c
	}
	return out
}

// Usage returns the node time of each role: the lifetimes of deleted
// instances plus the age of live ones, Pending included (a booting machine
// is billed).
func (p *Provider) Usage() map[string]time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	out := maps.Clone(p.retired)
	for _, in := range p.insts {
		out[in.inst.Spec.Role] += now.Sub(in.inst.CreatedAt)
	}
	return out
}

// Stats returns the provider's counters.
func (p *Provider) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

func (p *Provider) stateAt(in *instance, now time.Time) provider.State {
	if in.failed || now.Before(in.inst.CreatedAt.Add(p.boot)) {
		return provider.StatePending
	}
	return provider.StateRunning
}

func (p *Provider) instanceLocked(in *instance, now time.Time) provider.Instance {
	inst := in.inst
	inst.Spec = cloneSpec(in.inst.Spec)
	inst.Metadata = maps.Clone(in.inst.Metadata)
	inst.State = p.stateAt(in, now)
	return inst
}

func cloneSpec(s provider.Spec) provider.Spec {
	s.Env = maps.Clone(s.Env)
	s.Metadata = maps.Clone(s.Metadata)
	return s
}
