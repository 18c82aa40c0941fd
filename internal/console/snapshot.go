package console

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/shoal-live/shoal/internal/store"
)

// The JSON the page reads. Times are Unix milliseconds; 0 means never.

// fleetJSON is the fleet section: groups with their load per role, nodes
// and streams.
type fleetJSON struct {
	Groups  []groupJSON  `json:"groups"`
	Nodes   []nodeJSON   `json:"nodes"`
	Streams []streamJSON `json:"streams"`
}

type groupJSON struct {
	Name         string     `json:"name"`
	State        string     `json:"state"`
	Regions      []string   `json:"regions"`
	LaunchConfig string     `json:"launch_config"`
	ScalePolicy  string     `json:"scale_policy"`
	Roles        []roleJSON `json:"roles"`
}

// roleJSON is the load of one role of a group, computed as the autoscaler
// does: the role's metric (subscribers for edges, publishers for origins,
// connections otherwise) summed over the active nodes (in service, not
// draining), against their capacity.
type roleJSON struct {
	Role      string `json:"role"`
	Unit      string `json:"unit"`
	Nodes     int    `json:"nodes"`
	InService int    `json:"in_service"`
	Active    int    `json:"active"`
	Load      int    `json:"load"`
	Capacity  int    `json:"capacity"`
	// Percent is Load / Capacity × 100, 0 without active nodes.
	Percent   float64 `json:"percent"`
	Threshold int     `json:"threshold"`
	Min       int     `json:"min"`
	Max       int     `json:"max"`
}

type nodeJSON struct {
	ID       string `json:"id"`
	Group    string `json:"group"`
	Role     string `json:"role"`
	Region   string `json:"region"`
	State    string `json:"state"`
	Draining bool   `json:"draining"`
	// Address is host:rtmp_port.
	Address    string   `json:"address"`
	HTTPPort   int      `json:"http_port"`
	Capacity   int      `json:"capacity"`
	Load       int      `json:"load"`
	Conns      int      `json:"connections"`
	Pubs       int      `json:"publishers"`
	Subs       int      `json:"subscribers"`
	Streams    int      `json:"streams"`
	CPU        float64  `json:"cpu"`
	Memory     int64    `json:"memory_bytes"`
	BytesIn    int64    `json:"bytes_in_per_s"`
	BytesOut   int64    `json:"bytes_out_per_s"`
	Parents    []string `json:"parents"`
	LastReport int64    `json:"last_report"`
	StateSince int64    `json:"state_since"`
	Created    int64    `json:"created"`
}

// streamJSON is one stream: the nodes that publish it (normally one
// origin) and the edges that carry it, with their subscribers.
type streamJSON struct {
	Scope       string        `json:"scope"`
	Name        string        `json:"name"`
	Origins     []carrierJSON `json:"origins"`
	Edges       []carrierJSON `json:"edges"`
	Subscribers int           `json:"subscribers"`
	Started     int64         `json:"started"`
}

type carrierJSON struct {
	Node        string `json:"node"`
	Subscribers int    `json:"subscribers"`
}

// configJSON is the config section: what the actions edit.
type configJSON struct {
	Policies      []policyJSON       `json:"policies"`
	LaunchConfigs []launchConfigJSON `json:"launch_configs"`
	// Alarms maps each role to its scale-out threshold in percent.
	Alarms map[string]int `json:"alarms"`
}

type policyJSON struct {
	Name    string             `json:"name"`
	Regions []policyRegionJSON `json:"regions"`
}

type policyRegionJSON struct {
	Name    string             `json:"name"`
	Targets []policyTargetJSON `json:"targets"`
}

type policyTargetJSON struct {
	Role string `json:"role"`
	Min  int    `json:"min"`
	Max  int    `json:"max"`
}

type launchConfigJSON struct {
	Name    string             `json:"name"`
	Targets []launchTargetJSON `json:"targets"`
}

type launchTargetJSON struct {
	Role     string `json:"role"`
	Capacity int    `json:"capacity"`
}

// scalingJSON is the scaling section: recent events, newest first.
type scalingJSON struct {
	Events []eventJSON `json:"events"`
}

type eventJSON struct {
	ID      int64           `json:"id"`
	At      int64           `json:"at"`
	Group   string          `json:"group"`
	Role    string          `json:"role"`
	Action  string          `json:"action"`
	Node    string          `json:"node"`
	Reason  string          `json:"reason"`
	Details json.RawMessage `json:"details"`
}

// tickJSON is sent on every sample: the time, the load of every group and
// role and the cluster's shared-object change rate, which the page appends
// to its charts.
type tickJSON struct {
	At int64 `json:"at"`
	// Load maps "group/role" to the role's load in percent.
	Load map[string]float64 `json:"load"`
	// SORate is the cluster's shared-object versions per second.
	SORate float64 `json:"so_rate"`
	// Error is the last failure to read the store, "" when it worked.
	Error string `json:"error"`
}

// loadKey names a group's role in histories.
func loadKey(group string, role store.Role) string { return group + "/" + string(role) }

// roleMetric is the load a node puts on its role's capacity, as the
// autoscaler counts it.
func roleMetric(role store.Role, r store.Report) int {
	switch role {
	case store.RoleEdge:
		return r.Subscribers
	case store.RoleOrigin:
		return r.Publishers
	default:
		return r.Connections
	}
}

func roleUnit(role store.Role) string {
	switch role {
	case store.RoleEdge:
		return "subscribers"
	case store.RoleOrigin:
		return "publishers"
	default:
		return "connections"
	}
}

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// sample is one reading of the store.
type sample struct {
	fleet   fleetJSON
	config  configJSON
	scaling scalingJSON
	load    map[string]float64
	nodeIDs map[string]bool
}

// read reads the store and builds the fleet, config and scaling sections.
func (c *Console) read(ctx context.Context) (sample, error) {
	var s sample
	groups, err := c.st.Groups(ctx)
	if err != nil {
		return s, err
	}
	nodes, err := c.st.Nodes(ctx, store.NodeFilter{})
	if err != nil {
		return s, err
	}
	reports, err := c.st.Reports(ctx, "")
	if err != nil {
		return s, err
	}
	streams, err := c.st.Streams(ctx, store.StreamFilter{})
	if err != nil {
		return s, err
	}
	policies, err := c.st.Policies(ctx)
	if err != nil {
		return s, err
	}
	lcs, err := c.st.LaunchConfigs(ctx)
	if err != nil {
		return s, err
	}
	events, err := c.st.ScalingEvents(ctx, store.ScalingEventFilter{Limit: c.cfg.ScalingEvents})
	if err != nil {
		return s, err
	}
	alarms := make(map[string]int, len(store.Roles))
	for _, role := range store.Roles {
		a, err := c.st.Alarm(ctx, role)
		if err != nil {
			return s, err
		}
		alarms[string(role)] = a.Threshold
	}

	s.config = buildConfig(policies, lcs, alarms)
	s.scaling = scalingJSON{Events: make([]eventJSON, 0, len(events))}
	for _, e := range events {
		d := e.Details
		if len(d) == 0 {
			d = json.RawMessage("{}")
		}
		s.scaling.Events = append(s.scaling.Events, eventJSON{
			ID: e.ID, At: millis(e.At), Group: e.Group, Role: string(e.Role), Action: string(e.Action),
			Node: e.NodeID, Reason: e.Reason, Details: d,
		})
	}
	s.fleet, s.load = buildFleet(groups, nodes, reports, streams, policies, alarms)
	s.nodeIDs = make(map[string]bool, len(nodes))
	for _, n := range nodes {
		s.nodeIDs[n.Identifier] = true
	}
	return s, nil
}

func buildConfig(policies []store.ScalePolicy, lcs []store.LaunchConfig, alarms map[string]int) configJSON {
	out := configJSON{Policies: []policyJSON{}, LaunchConfigs: []launchConfigJSON{}, Alarms: alarms}
	for _, p := range policies {
		pj := policyJSON{Name: p.Name, Regions: []policyRegionJSON{}}
		for _, r := range p.Regions {
			rj := policyRegionJSON{Name: r.Name, Targets: []policyTargetJSON{}}
			for _, t := range r.Targets {
				rj.Targets = append(rj.Targets, policyTargetJSON{Role: string(t.Role), Min: t.MinLimit, Max: t.MaxLimit})
			}
			pj.Regions = append(pj.Regions, rj)
		}
		out.Policies = append(out.Policies, pj)
	}
	for _, lc := range lcs {
		lj := launchConfigJSON{Name: lc.Name, Targets: []launchTargetJSON{}}
		for _, t := range lc.Targets {
			lj.Targets = append(lj.Targets, launchTargetJSON{Role: string(t.Role), Capacity: t.ConnectionCapacity})
		}
		out.LaunchConfigs = append(out.LaunchConfigs, lj)
	}
	return out
}

// buildFleet builds the fleet section and the load of every group and
// role.
func buildFleet(groups []store.NodeGroup, nodes []store.Node, reports []store.Report, streams []store.Stream,
	policies []store.ScalePolicy, alarms map[string]int,
) (fleetJSON, map[string]float64) {
	byNode := make(map[int64]store.Report, len(reports))
	for _, r := range reports {
		byNode[r.NodeID] = r
	}
	policyByName := make(map[string]store.ScalePolicy, len(policies))
	for _, p := range policies {
		policyByName[p.Name] = p
	}
	out := fleetJSON{Groups: make([]groupJSON, 0, len(groups)), Nodes: make([]nodeJSON, 0, len(nodes))}
	load := map[string]float64{}

	type roleAcc struct {
		roleJSON
		capSum int
	}
	acc := map[string]*roleAcc{} // by loadKey
	for _, n := range nodes {
		r, reported := byNode[n.ID]
		nj := nodeJSON{
			ID: n.Identifier, Group: n.Group, Role: string(n.Role), Region: n.Region, State: string(n.State),
			Draining: n.Draining, Address: n.HostPort(), HTTPPort: n.HTTPPort, Capacity: n.Capacity,
			Parents: n.Parents, LastReport: millis(n.LastReport), StateSince: millis(n.StateChangedAt),
			Created: millis(n.CreatedAt),
		}
		if nj.Parents == nil {
			nj.Parents = []string{}
		}
		if reported {
			nj.Load = roleMetric(n.Role, r)
			nj.Conns, nj.Pubs, nj.Subs, nj.Streams = r.Connections, r.Publishers, r.Subscribers, r.StreamCount
			nj.CPU, nj.Memory, nj.BytesIn, nj.BytesOut = r.CPU, r.MemoryBytes, r.BytesInPerS, r.BytesOutPerS
		}
		out.Nodes = append(out.Nodes, nj)

		k := loadKey(n.Group, n.Role)
		a := acc[k]
		if a == nil {
			a = &roleAcc{roleJSON: roleJSON{Role: string(n.Role)}}
			acc[k] = a
		}
		a.Nodes++
		if n.State == store.NodeInService {
			a.InService++
			if !n.Draining {
				a.Active++
				a.Load += nj.Load
				a.capSum += n.Capacity
			}
		}
	}
	for _, g := range groups {
		gj := groupJSON{
			Name: g.Name, State: string(g.State), Regions: g.Regions, LaunchConfig: g.LaunchConfig,
			ScalePolicy: g.ScalePolicy, Roles: []roleJSON{},
		}
		if gj.Regions == nil {
			gj.Regions = []string{}
		}
		targets := map[store.Role]store.PolicyTarget{}
		if p, ok := policyByName[g.ScalePolicy]; ok {
			for _, role := range store.Roles {
				if t, ok := p.Target(store.DefaultRegion, role); ok {
					targets[role] = t
				}
			}
		}
		for _, role := range store.Roles {
			k := loadKey(g.Name, role)
			t, inPolicy := targets[role]
			a := acc[k]
			if a == nil && (!inPolicy || t.MaxLimit == 0) {
				continue
			}
			rj := roleJSON{Role: string(role)}
			if a != nil {
				rj = a.roleJSON
				rj.Capacity = a.capSum
				if a.capSum > 0 {
					rj.Percent = 100 * float64(a.Load) / float64(a.capSum)
				}
			}
			rj.Unit = roleUnit(role)
			rj.Threshold = alarms[string(role)]
			rj.Min, rj.Max = t.MinLimit, t.MaxLimit
			gj.Roles = append(gj.Roles, rj)
			load[k] = rj.Percent
		}
		out.Groups = append(out.Groups, gj)
	}
	out.Streams = buildStreams(streams)
	return out, load
}

// buildStreams groups the per-node stream rows (ordered by scope, name and
// node) into streams.
func buildStreams(rows []store.Stream) []streamJSON {
	out := []streamJSON{}
	for i := 0; i < len(rows); {
		j := i
		st := streamJSON{Scope: rows[i].Scope, Name: rows[i].Name, Origins: []carrierJSON{}, Edges: []carrierJSON{}}
		for ; j < len(rows) && rows[j].Scope == st.Scope && rows[j].Name == st.Name; j++ {
			r := rows[j]
			st.Subscribers += r.Subscribers
			if started := millis(r.StartedAt); st.Started == 0 || (started != 0 && started < st.Started) {
				st.Started = started
			}
			c := carrierJSON{Node: r.Node, Subscribers: r.Subscribers}
			if r.Role == store.StreamOrigin {
				st.Origins = append(st.Origins, c)
			} else {
				st.Edges = append(st.Edges, c)
			}
		}
		slices.SortFunc(st.Edges, func(a, b carrierJSON) int { return cmp.Compare(a.Node, b.Node) })
		out = append(out, st)
		i = j
	}
	return out
}

// errorText shortens an error for the page.
func errorText(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return strings.TrimSpace(s)
}
