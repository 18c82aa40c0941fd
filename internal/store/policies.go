package store

import (
	"context"
	"time"
)

// DefaultRegion is the policy region that applies where no region matches.
const DefaultRegion = "default"

// ScalePolicy bounds how many nodes of each role a group keeps, per region
// (the content of a Red5 Pro v0.0.3 "region-focused" scale policy).
type ScalePolicy struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Type        string         `json:"type"`
	Version     string         `json:"version"`
	Regions     []PolicyRegion `json:"regions"`
}

// PolicyRegion holds the per-role targets of one region. The region named
// DefaultRegion is always present.
type PolicyRegion struct {
	Name    string         `json:"name"`
	Targets []PolicyTarget `json:"targets"`
}

// PolicyTarget is the scaling rule of one role in one region.
type PolicyTarget struct {
	Role     Role `json:"role"`
	MinLimit int  `json:"min_limit"`
	MaxLimit int  `json:"max_limit"`
	// ScaleAdjustment is the number of nodes added or removed per step.
	ScaleAdjustment int `json:"scale_adjustment"`
	// EstimatedWarmUpTime is how long a new node takes to be INSERVICE.
	EstimatedWarmUpTime time.Duration `json:"estimated_warm_up_time"`
	// CoolDownPeriod is the pause after a scaling operation (rigid mode).
	CoolDownPeriod   time.Duration `json:"cool_down_period"`
	ScaleInWaitTime  time.Duration `json:"scale_in_wait_time"`
	ScaleOutWaitTime time.Duration `json:"scale_out_wait_time"`
}

// Target returns the rule for role in region, falling back to the default
// region when region has none.
func (p ScalePolicy) Target(region string, role Role) (PolicyTarget, bool) {
	for _, name := range []string{region, DefaultRegion} {
		for _, r := range p.Regions {
			if r.Name != name {
				continue
			}
			for _, t := range r.Targets {
				if t.Role == role {
					return t, true
				}
			}
		}
	}
	return PolicyTarget{}, false
}

// CreatePolicy stores a new scale policy; ErrConflict if the name is taken.
func (s *Store) CreatePolicy(ctx context.Context, p ScalePolicy) error {
	return createDoc(ctx, s, policyDocs, p.Name, p)
}

// UpdatePolicy replaces the scale policy named p.Name; ErrNotFound if absent.
func (s *Store) UpdatePolicy(ctx context.Context, p ScalePolicy) error {
	return updateDoc(ctx, s, policyDocs, p.Name, p)
}

// PutPolicy creates or replaces the scale policy named p.Name (for seeding
// defaults at start-up).
func (s *Store) PutPolicy(ctx context.Context, p ScalePolicy) error {
	return putDoc(ctx, s, policyDocs, p.Name, p)
}

// Policy returns the named scale policy.
func (s *Store) Policy(ctx context.Context, name string) (ScalePolicy, error) {
	return readDoc[ScalePolicy](ctx, s.db, s, policyDocs, name)
}

// Policies returns every scale policy, ordered by name.
func (s *Store) Policies(ctx context.Context) ([]ScalePolicy, error) {
	return listDocs[ScalePolicy](ctx, s, policyDocs)
}

// DeletePolicy removes a scale policy and returns it; ErrConflict if a
// group uses it.
func (s *Store) DeletePolicy(ctx context.Context, name string) (ScalePolicy, error) {
	return deleteDoc[ScalePolicy](ctx, s, policyDocs, name)
}
