package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/shoal-live/shoal/internal/store"
)

// Red5 Pro scale policy constants.
const (
	policyType    = "com.red5pro.services.autoscaling.model.ScalePolicyMaster"
	policyVersion = "0.0.3"
	// Defaults where a target omits them: the values of every Red5 Pro
	// example (no definition of them was ever published).
	defaultWarmUpMS   = 150000
	defaultCoolDownMS = 180000
	// maxNodesPerRole bounds maxLimit (SM 2.0 uses the same bound).
	maxNodesPerRole = 1024
)

// policyEnvelope is the Red5 Pro body of the scale policy endpoints.
type policyEnvelope struct {
	Policy *policyJSON `json:"policy"`
}

// policyJSON is a v0.0.3 ("region-focused") scale policy.
type policyJSON struct {
	Name        string             `json:"name"`
	Description string             `json:"description"`
	Type        string             `json:"type"`
	Version     string             `json:"version"`
	Targets     *policyTargetsJSON `json:"targets"`
}

type policyTargetsJSON struct {
	Region []policyRegionJSON `json:"region"`
}

type policyRegionJSON struct {
	Name   string             `json:"name"`
	Target []policyTargetJSON `json:"target"`
}

// policyTargetJSON holds one role's rule; times are milliseconds. Pointers
// tell absent fields from zeros.
type policyTargetJSON struct {
	Role                string `json:"role"`
	MinLimit            *int   `json:"minLimit"`
	MaxLimit            *int   `json:"maxLimit"`
	ScaleAdjustment     *int   `json:"scaleAdjustment,omitempty"`
	EstimatedWarmUpTime *int64 `json:"estimatedWarmUpTime,omitempty"`
	CoolDownPeriod      *int64 `json:"coolDownPeriod,omitempty"`
	ScaleInWaitTime     *int64 `json:"scaleInWaitTime,omitempty"`
	ScaleOutWaitTime    *int64 `json:"scaleOutWaitTime,omitempty"`
}

// toPolicy validates a policy document and converts it. Errors name the
// offending field, e.g. "targets.region[0].target[1].maxLimit: must be >=
// minLimit (2), got 1".
func toPolicy(env policyEnvelope) (store.ScalePolicy, error) {
	p := env.Policy
	if p == nil {
		return store.ScalePolicy{}, badRequest("policy: required")
	}
	if err := checkName("name", p.Name); err != nil {
		return store.ScalePolicy{}, err
	}
	out := store.ScalePolicy{Name: p.Name, Description: p.Description, Type: p.Type, Version: p.Version}
	if out.Type == "" {
		out.Type = policyType
	}
	switch out.Version {
	case "":
		out.Version = policyVersion
	case policyVersion:
	default:
		return store.ScalePolicy{}, badRequest("version: must be %s (region-focused format), got %q", policyVersion, p.Version)
	}
	if p.Targets == nil || len(p.Targets.Region) == 0 {
		return store.ScalePolicy{}, badRequest("targets.region: at least one region is required")
	}
	var defaultRoles map[store.Role]bool
	seenRegion := map[string]bool{}
	for i, reg := range p.Targets.Region {
		field := fmt.Sprintf("targets.region[%d]", i)
		if reg.Name == "" {
			return store.ScalePolicy{}, badRequest("%s.name: required", field)
		}
		if seenRegion[reg.Name] {
			return store.ScalePolicy{}, badRequest("%s.name: region %q listed twice", field, reg.Name)
		}
		seenRegion[reg.Name] = true
		if len(reg.Target) == 0 {
			return store.ScalePolicy{}, badRequest("%s.target: at least one role is required", field)
		}
		pr := store.PolicyRegion{Name: reg.Name}
		roles := map[store.Role]bool{}
		for j, t := range reg.Target {
			pt, err := toPolicyTarget(fmt.Sprintf("%s.target[%d]", field, j), t)
			if err != nil {
				return store.ScalePolicy{}, err
			}
			if roles[pt.Role] {
				return store.ScalePolicy{}, badRequest("%s.target[%d].role: role %q listed twice", field, j, pt.Role)
			}
			roles[pt.Role] = true
			pr.Targets = append(pr.Targets, pt)
		}
		if reg.Name == store.DefaultRegion {
			defaultRoles = roles
		}
		out.Regions = append(out.Regions, pr)
	}
	if defaultRoles == nil {
		return store.ScalePolicy{}, badRequest("targets.region: a region named %q is required", store.DefaultRegion)
	}
	// Red5 Pro: every role must be listed in each region (0 where unwanted).
	for i, reg := range out.Regions {
		for _, role := range store.Roles {
			has := false
			for _, t := range reg.Targets {
				has = has || t.Role == role
			}
			if has != defaultRoles[role] {
				return store.ScalePolicy{}, badRequest("targets.region[%d].target: every region must list the same roles as %q (role %q differs)",
					i, store.DefaultRegion, role)
			}
		}
	}
	return out, nil
}

func toPolicyTarget(field string, t policyTargetJSON) (store.PolicyTarget, error) {
	role := store.Role(t.Role)
	if !role.Valid() {
		return store.PolicyTarget{}, badRequest("%s.role: must be one of %v, got %q", field, store.Roles, t.Role)
	}
	if t.MinLimit == nil {
		return store.PolicyTarget{}, badRequest("%s.minLimit: required", field)
	}
	if t.MaxLimit == nil {
		return store.PolicyTarget{}, badRequest("%s.maxLimit: required", field)
	}
	pt := store.PolicyTarget{
		Role: role, MinLimit: *t.MinLimit, MaxLimit: *t.MaxLimit, ScaleAdjustment: 1,
		EstimatedWarmUpTime: defaultWarmUpMS * time.Millisecond, CoolDownPeriod: defaultCoolDownMS * time.Millisecond,
	}
	switch {
	case pt.MinLimit < 0:
		return store.PolicyTarget{}, badRequest("%s.minLimit: must be >= 0, got %d", field, pt.MinLimit)
	case pt.MaxLimit < pt.MinLimit:
		return store.PolicyTarget{}, badRequest("%s.maxLimit: must be >= minLimit (%d), got %d", field, pt.MinLimit, pt.MaxLimit)
	case pt.MaxLimit > maxNodesPerRole:
		return store.PolicyTarget{}, badRequest("%s.maxLimit: must be <= %d, got %d", field, maxNodesPerRole, pt.MaxLimit)
	}
	if t.ScaleAdjustment != nil {
		if *t.ScaleAdjustment < 1 || *t.ScaleAdjustment > maxNodesPerRole {
			return store.PolicyTarget{}, badRequest("%s.scaleAdjustment: must be from 1 to %d, got %d", field, maxNodesPerRole, *t.ScaleAdjustment)
		}
		pt.ScaleAdjustment = *t.ScaleAdjustment
	}
	durations := []struct {
		name string
		v    *int64
		dst  *time.Duration
	}{
		{"estimatedWarmUpTime", t.EstimatedWarmUpTime, &pt.EstimatedWarmUpTime},
		{"coolDownPeriod", t.CoolDownPeriod, &pt.CoolDownPeriod},
		{"scaleInWaitTime", t.ScaleInWaitTime, &pt.ScaleInWaitTime},
		{"scaleOutWaitTime", t.ScaleOutWaitTime, &pt.ScaleOutWaitTime},
	}
	for _, d := range durations {
		if d.v == nil {
			continue
		}
		if *d.v < 0 || *d.v > int64(24*time.Hour/time.Millisecond) {
			return store.PolicyTarget{}, badRequest("%s.%s: must be from 0 to 86400000 ms, got %d", field, d.name, *d.v)
		}
		*d.dst = time.Duration(*d.v) * time.Millisecond
	}
	return pt, nil
}

func fromPolicy(p store.ScalePolicy) policyEnvelope {
	out := &policyJSON{Name: p.Name, Description: p.Description, Type: p.Type, Version: p.Version, Targets: &policyTargetsJSON{Region: []policyRegionJSON{}}}
	for _, reg := range p.Regions {
		rj := policyRegionJSON{Name: reg.Name, Target: []policyTargetJSON{}}
		for _, t := range reg.Targets {
			rj.Target = append(rj.Target, policyTargetJSON{
				Role: string(t.Role), MinLimit: ptr(t.MinLimit), MaxLimit: ptr(t.MaxLimit), ScaleAdjustment: ptr(t.ScaleAdjustment),
				EstimatedWarmUpTime: ptr(t.EstimatedWarmUpTime.Milliseconds()), CoolDownPeriod: ptr(t.CoolDownPeriod.Milliseconds()),
				ScaleInWaitTime: ptr(t.ScaleInWaitTime.Milliseconds()), ScaleOutWaitTime: ptr(t.ScaleOutWaitTime.Milliseconds()),
			})
		}
		out.Targets.Region = append(out.Targets.Region, rj)
	}
	return policyEnvelope{Policy: out}
}

func ptr[T any](v T) *T { return &v }

func (s *Server) createPolicy(w http.ResponseWriter, r *http.Request) error {
	var env policyEnvelope
	if err := decodeJSON(w, r, bodyLimit, &env); err != nil {
		return err
	}
	p, err := toPolicy(env)
	if err != nil {
		return err
	}
	if err := s.st.CreatePolicy(r.Context(), p); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, fromPolicy(p))
	return nil
}

func (s *Server) listPolicies(w http.ResponseWriter, r *http.Request) error {
	ps, err := s.st.Policies(r.Context())
	if err != nil {
		return err
	}
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	writeJSON(w, http.StatusOK, names)
	return nil
}

func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request) error {
	p, err := s.st.Policy(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, fromPolicy(p))
	return nil
}

func (s *Server) updatePolicy(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	var env policyEnvelope
	if err := decodeJSON(w, r, bodyLimit, &env); err != nil {
		return err
	}
	if env.Policy != nil && env.Policy.Name == "" {
		env.Policy.Name = name
	}
	p, err := toPolicy(env)
	if err != nil {
		return err
	}
	if p.Name != name {
		return badRequest("name: %q does not match the policy %q in the path", p.Name, name)
	}
	if err := s.st.UpdatePolicy(r.Context(), p); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, fromPolicy(p))
	return nil
}

func (s *Server) deletePolicy(w http.ResponseWriter, r *http.Request) error {
	p, err := s.st.DeletePolicy(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, fromPolicy(p))
	return nil
}
