package api

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-live/shoal/internal/store"
)

// resizeRequest is the body of PUT /admin/nodegroup/{group}, Red5 Pro's
// node group resize: the clients each region of the group must carry.
type resizeRequest struct {
	Region []resizeRegionJSON `json:"region"`
}

type resizeRegionJSON struct {
	Name string          `json:"name"`
	Info *resizeInfoJSON `json:"info"`
}

// resizeInfoJSON holds client counts, strings in Red5 Pro's examples
// ("500"); numbers are accepted too.
type resizeInfoJSON struct {
	MinPublishers  numberText `json:"minPublishers"`
	MaxPublishers  numberText `json:"maxPublishers"`
	MinSubscribers numberText `json:"minSubscribers"`
	MaxSubscribers numberText `json:"maxSubscribers"`
}

// regionSize is one validated region of a resize request.
type regionSize struct {
	field                          string // "region[0]", for errors
	name                           string
	minPublishers, maxPublishers   int64
	minSubscribers, maxSubscribers int64
}

// sizes validates the request: at least one region, each named once, and
// for each the four counts, whole numbers >= 0 with min <= max.
func (req resizeRequest) sizes() ([]regionSize, error) {
	if len(req.Region) == 0 {
		return nil, badRequest("region: at least one region is required")
	}
	seen := map[string]bool{}
	out := make([]regionSize, 0, len(req.Region))
	for i, reg := range req.Region {
		rs := regionSize{field: fmt.Sprintf("region[%d]", i), name: reg.Name}
		if reg.Name == "" {
			return nil, badRequest("%s.name: required", rs.field)
		}
		if seen[reg.Name] {
			return nil, badRequest("%s.name: region %q listed twice", rs.field, reg.Name)
		}
		seen[reg.Name] = true
		if reg.Info == nil {
			return nil, badRequest("%s.info: required", rs.field)
		}
		counts := []struct {
			name string
			text numberText
			dst  *int64
		}{
			{"minPublishers", reg.Info.MinPublishers, &rs.minPublishers},
			{"maxPublishers", reg.Info.MaxPublishers, &rs.maxPublishers},
			{"minSubscribers", reg.Info.MinSubscribers, &rs.minSubscribers},
			{"maxSubscribers", reg.Info.MaxSubscribers, &rs.maxSubscribers},
		}
		for _, c := range counts {
			if c.text == "" {
				return nil, badRequest("%s.info.%s: required", rs.field, c.name)
			}
			v, err := strconv.ParseInt(string(c.text), 10, 64)
			if err != nil || v < 0 {
				return nil, badRequest("%s.info.%s: must be a whole number >= 0, got %q", rs.field, c.name, c.text)
			}
			*c.dst = v
		}
		if rs.maxPublishers < rs.minPublishers {
			return nil, badRequest("%s.info.maxPublishers: must be >= minPublishers (%d), got %d", rs.field, rs.minPublishers, rs.maxPublishers)
		}
		if rs.maxSubscribers < rs.minSubscribers {
			return nil, badRequest("%s.info.maxSubscribers: must be >= minSubscribers (%d), got %d", rs.field, rs.minSubscribers, rs.maxSubscribers)
		}
		out = append(out, rs)
	}
	return out, nil
}

// limits is a role's computed minLimit and maxLimit.
type limits struct{ min, max int }

// tierOne are the roles a resize sizes.
var tierOne = []store.Role{store.RoleOrigin, store.RoleEdge}

// nodesFor returns how many nodes of the given capacity carry n clients,
// rounded up; field and what name the count in the error when that is
// more than a role may have.
func nodesFor(n int64, capacity int, field, what string, role store.Role) (int, error) {
	nodes := n / int64(capacity)
	if n%int64(capacity) != 0 {
		nodes++
	}
	if nodes > maxNodesPerRole {
		return 0, badRequest("%s: %d %s need %d %ss of capacity %d, more than the %d a role may have",
			field, n, what, nodes, role, capacity, maxNodesPerRole)
	}
	return int(nodes), nil
}

// regionLimits computes a region's limits from its client counts:
//
//	origin minLimit = max(1, ceil(minPublishers / origin capacity))
//	origin maxLimit = max(1, ceil(maxPublishers / origin capacity))
//	edge minLimit   = ceil(minSubscribers / edge capacity)
//	edge maxLimit   = ceil(maxSubscribers / edge capacity)
//
// (min <= max follows from the counts). A region keeps at least one
// origin, so that it can take publishers at all.
func regionLimits(rs regionSize, capacity map[store.Role]int) (map[store.Role]limits, error) {
	oc, ec := capacity[store.RoleOrigin], capacity[store.RoleEdge]
	f := rs.field + ".info."
	var err error
	var o, e limits
	if o.min, err = nodesFor(rs.minPublishers, oc, f+"minPublishers", "publishers", store.RoleOrigin); err != nil {
		return nil, err
	}
	if o.max, err = nodesFor(rs.maxPublishers, oc, f+"maxPublishers", "publishers", store.RoleOrigin); err != nil {
		return nil, err
	}
	if e.min, err = nodesFor(rs.minSubscribers, ec, f+"minSubscribers", "subscribers", store.RoleEdge); err != nil {
		return nil, err
	}
	if e.max, err = nodesFor(rs.maxSubscribers, ec, f+"maxSubscribers", "subscribers", store.RoleEdge); err != nil {
		return nil, err
	}
	o.min, o.max = max(o.min, 1), max(o.max, 1)
	return map[store.Role]limits{store.RoleOrigin: o, store.RoleEdge: e}, nil
}

// resizePolicy returns p resized for group g, and the limits set in each
// requested region and in the default region. The requested regions get
// their computed limits; the group's other regions keep theirs (their own
// entry, or a copy of the default region's, since Red5 Pro reads a policy
// per region). Shoal's autoscaler scales a group as one pool by the
// default region's targets, so the default region's origin and edge
// limits become the sums over the group's regions.
func resizePolicy(g store.NodeGroup, p store.ScalePolicy, sizes []regionSize, capacity map[store.Role]int) (
	store.ScalePolicy, map[string]map[store.Role]limits, error,
) {
	if slices.Contains(g.Regions, store.DefaultRegion) {
		return p, nil, badRequest("group %s has a region named %q, the name of the scale policy's fallback region, which holds the group's totals: it cannot be resized",
			g.Name, store.DefaultRegion)
	}
	for _, rs := range sizes {
		if !slices.Contains(g.Regions, rs.name) {
			return p, nil, badRequest("%s.name: group %s has no region %q (its regions: %s); a resize cannot add regions",
				rs.field, g.Name, rs.name, strings.Join(g.Regions, ", "))
		}
	}
	// Tier 1 only, as in Red5 Pro.
	for _, reg := range p.Regions {
		for _, t := range reg.Targets {
			if !slices.Contains(tierOne, t.Role) && t.MaxLimit > 0 {
				return p, nil, badRequest("scale policy %s allows %ss (region %q, maxLimit %d): a resize handles groups of origins and edges only (tier 1)",
					p.Name, t.Role, reg.Name, t.MaxLimit)
			}
		}
	}
	def := slices.IndexFunc(p.Regions, func(r store.PolicyRegion) bool { return r.Name == store.DefaultRegion })
	if def < 0 {
		return p, nil, fmt.Errorf("scale policy %s has no %q region", p.Name, store.DefaultRegion)
	}
	// Every region lists every role (Red5 Pro's rule): add origin and edge
	// where the policy had none, at 0.
	for i := range p.Regions {
		for _, role := range tierOne {
			if !slices.ContainsFunc(p.Regions[i].Targets, func(t store.PolicyTarget) bool { return t.Role == role }) {
				p.Regions[i].Targets = append(p.Regions[i].Targets, store.PolicyTarget{
					Role: role, ScaleAdjustment: 1,
					EstimatedWarmUpTime: defaultWarmUpMS * time.Millisecond, CoolDownPeriod: defaultCoolDownMS * time.Millisecond,
				})
			}
		}
	}
	region := func(name string) *store.PolicyRegion {
		i := slices.IndexFunc(p.Regions, func(r store.PolicyRegion) bool { return r.Name == name })
		if i < 0 {
			p.Regions = append(p.Regions, store.PolicyRegion{Name: name, Targets: slices.Clone(p.Regions[def].Targets)})
			i = len(p.Regions) - 1
		}
		return &p.Regions[i]
	}
	setLimits := func(reg *store.PolicyRegion, l map[store.Role]limits) {
		for i, t := range reg.Targets {
			if v, ok := l[t.Role]; ok {
				reg.Targets[i].MinLimit, reg.Targets[i].MaxLimit = v.min, v.max
			}
		}
	}
	set := map[string]map[store.Role]limits{}
	for _, rs := range sizes {
		l, err := regionLimits(rs, capacity)
		if err != nil {
			return p, nil, err
		}
		setLimits(region(rs.name), l)
		set[rs.name] = l
	}
	total := map[store.Role]limits{}
	for _, name := range g.Regions {
		for _, t := range region(name).Targets {
			if slices.Contains(tierOne, t.Role) {
				total[t.Role] = limits{min: total[t.Role].min + t.MinLimit, max: total[t.Role].max + t.MaxLimit}
			}
		}
	}
	for _, role := range tierOne {
		if total[role].max > maxNodesPerRole {
			return p, nil, badRequest("the group's regions together would allow %d %ss, more than the %d a role may have",
				total[role].max, role, maxNodesPerRole)
		}
	}
	setLimits(&p.Regions[def], total)
	set[store.DefaultRegion] = total
	return p, set, nil
}

// resizedGroupJSON is the answer to a resize: the group as GET renders it
// (scalePolicy names the policy it now uses), plus Shoal's "resize".
type resizedGroupJSON struct {
	groupJSON
	Resize resizeResultJSON `json:"resize"`
}

type resizeResultJSON struct {
	// PolicyCreated is set when the group shared its scale policy with
	// other groups (SharedWith): the others keep it unchanged, and the
	// group now has a policy of its own (scalePolicy).
	PolicyCreated  bool     `json:"policyCreated"`
	PreviousPolicy string   `json:"previousPolicy"`
	SharedWith     []string `json:"sharedWith"`
	// Region holds the limits set in each requested region.
	Region []resizedRegionJSON `json:"region"`
	// Total is the default region's origin and edge limits, the sums over
	// the group's regions, which the autoscaler applies to the group.
	Total []limitJSON `json:"total"`
}

type resizedRegionJSON struct {
	Name   string      `json:"name"`
	Target []limitJSON `json:"target"`
}

type limitJSON struct {
	Role               string `json:"role"`
	MinLimit           int    `json:"minLimit"`
	MaxLimit           int    `json:"maxLimit"`
	ConnectionCapacity int    `json:"connectionCapacity"`
}

func limitsJSON(l map[store.Role]limits, capacity map[store.Role]int) []limitJSON {
	out := make([]limitJSON, 0, len(tierOne))
	for _, role := range tierOne {
		out = append(out, limitJSON{Role: string(role), MinLimit: l[role].min, MaxLimit: l[role].max, ConnectionCapacity: capacity[role]})
	}
	return out
}

// resizeGroup is Red5 Pro's node group resize: it computes each requested
// region's origin and edge limits from its client counts and the
// connection capacities of the group's launch configuration
// (regionLimits), and rewrites the group's scale policy (resizePolicy). A
// policy shared with other groups is left to them: the group gets a copy
// of its own, "<group>-policy". The autoscaler reads the policy on each
// evaluation, so the limits apply from the next one.
func (s *Server) resizeGroup(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("group")
	var req resizeRequest
	if err := decodeJSON(w, r, bodyLimit, &req); err != nil {
		return err
	}
	sizes, err := req.sizes()
	if err != nil {
		return err
	}
	ctx := r.Context()
	g, err := s.st.Group(ctx, name)
	if err != nil {
		return err
	}
	lc, err := s.st.LaunchConfig(ctx, g.LaunchConfig)
	if err != nil {
		return fmt.Errorf("group %s: %w", name, err)
	}
	capacity := map[store.Role]int{}
	for _, role := range tierOne {
		t, ok := lc.Target(role)
		if !ok || t.ConnectionCapacity < 1 {
			return badRequest("launch configuration %s of group %s has no %s target with a connection capacity, which a resize needs",
				lc.Name, name, role)
		}
		capacity[role] = t.ConnectionCapacity
	}
	var set map[string]map[store.Role]limits
	edit, err := s.st.EditGroupPolicy(ctx, name, name+"-policy", func(g store.NodeGroup, p store.ScalePolicy, shared []string) (store.ScalePolicy, error) {
		if g.State == store.GroupDeleting {
			return p, fmt.Errorf("group %s is being deleted: %w", name, store.ErrConflict)
		}
		var err error
		from := p.Name
		if p, set, err = resizePolicy(g, p, sizes, capacity); err != nil {
			return p, err
		}
		if len(shared) > 0 {
			p.Description = fmt.Sprintf("scale policy of group %s, made by a resize from %s (shared with %s)", name, from, strings.Join(shared, ", "))
		}
		return p, nil
	})
	if err != nil {
		return err
	}
	out := resizedGroupJSON{groupJSON: toGroupJSON(edit.Group), Resize: resizeResultJSON{
		PolicyCreated: edit.Copied(), PreviousPolicy: edit.Previous, SharedWith: append([]string{}, edit.SharedWith...),
		Total: limitsJSON(set[store.DefaultRegion], capacity),
	}}
	for _, rs := range sizes {
		out.Resize.Region = append(out.Resize.Region, resizedRegionJSON{Name: rs.name, Target: limitsJSON(set[rs.name], capacity)})
	}
	s.logger.Info("node group resized", "group", name, "policy", edit.Policy.Name, "policy_created", edit.Copied(),
		"origins", fmt.Sprintf("%d-%d", set[store.DefaultRegion][store.RoleOrigin].min, set[store.DefaultRegion][store.RoleOrigin].max),
		"edges", fmt.Sprintf("%d-%d", set[store.DefaultRegion][store.RoleEdge].min, set[store.DefaultRegion][store.RoleEdge].max))
	writeJSON(w, http.StatusOK, out)
	return nil
}
