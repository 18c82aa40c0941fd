package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/shoal-live/shoal/internal/agentapi"
	"github.com/shoal-live/shoal/internal/store"
)

// reportLimit bounds a report body: about 10,000 streams.
const reportLimit = 8 << 20

// register answers a node agent's registration: it finds (or, for a node
// started by hand, creates) the node record, stores the node's endpoint,
// puts it in service and tells it its role, group, parents and reporting
// interval.
func (s *Server) register(w http.ResponseWriter, r *http.Request) error {
	var req agentapi.RegisterRequest
	if err := decodeJSON(w, r, bodyLimit, &req); err != nil {
		return err
	}
	if req.Host == "" {
		return badRequest("host: required")
	}
	if req.RTMPPort < 1 || req.RTMPPort > 65535 {
		return badRequest("rtmp_port: must be from 1 to 65535, got %d", req.RTMPPort)
	}
	if req.HTTPPort < 0 || req.HTTPPort > 65535 {
		return badRequest("http_port: must be from 0 to 65535, got %d", req.HTTPPort)
	}
	ctx := r.Context()
	var n store.Node
	var err error
	if req.NodeID != "" {
		n, err = s.st.NodeByIdentifier(ctx, req.NodeID)
		if err != nil {
			return err
		}
	} else if n, err = s.adoptNode(ctx, req); err != nil {
		return err
	}
	var parents []string
	if n.Role == store.RoleEdge || n.Role == store.RoleRelay {
		if parents, err = s.groupOrigins(ctx, n.Group); err != nil {
			return err
		}
	}
	n, err = s.st.RegisterNode(ctx, n.ID, store.Registration{
		Address: req.Host, RTMPPort: req.RTMPPort, HTTPPort: req.HTTPPort,
		Version: req.Version, Parents: parents,
	})
	if err != nil {
		return err
	}
	s.logger.Info("node registered", "node", n.Identifier, "group", n.Group, "role", string(n.Role), "addr", n.HostPort())
	writeJSON(w, http.StatusOK, agentapi.RegisterResponse{
		NodeID: n.Identifier, Role: string(n.Role), Group: n.Group,
		Parents: n.Parents, ReportIntervalMS: s.cfg.ReportInterval.Milliseconds(),
	})
	return nil
}

// adoptNode returns the record of a node started by hand: the existing
// record with the same group, role and address if it restarted, otherwise
// a new one.
func (s *Server) adoptNode(ctx context.Context, req agentapi.RegisterRequest) (store.Node, error) {
	role := store.Role(req.Role)
	if !role.Valid() {
		return store.Node{}, badRequest("role: must be one of %v, got %q", store.Roles, req.Role)
	}
	g, err := s.registrationGroup(ctx, req.Group)
	if err != nil {
		return store.Node{}, err
	}
	if g.State == store.GroupDeleting {
		return store.Node{}, fmt.Errorf("group %s is being deleted: %w", g.Name, store.ErrConflict)
	}
	existing, err := s.st.Nodes(ctx, store.NodeFilter{Group: g.Name, Role: role})
	if err != nil {
		return store.Node{}, err
	}
	for _, n := range existing {
		if n.Address == req.Host && n.RTMPPort == req.RTMPPort && n.State != store.NodeTerminating {
			return n, nil
		}
	}
	region := req.Region
	if region == "" && len(g.Regions) > 0 {
		region = g.Regions[0]
	}
	zone := req.Zone
	if zone == "" {
		zone = region
	}
	capacity := 0
	if lc, err := s.st.LaunchConfig(ctx, g.LaunchConfig); err == nil {
		if t, ok := lc.Target(role); ok {
			capacity = t.ConnectionCapacity
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return store.Node{}, err
	}
	return s.st.CreateNode(ctx, store.Node{
		Group: g.Name, Role: role, Region: region, Zone: zone, Address: req.Host,
		RTMPPort: req.RTMPPort, HTTPPort: req.HTTPPort, LaunchConfig: g.LaunchConfig, Capacity: capacity, Version: req.Version,
	})
}

// registrationGroup returns the named group, or the only group when name
// is empty.
func (s *Server) registrationGroup(ctx context.Context, name string) (store.NodeGroup, error) {
	if name != "" {
		return s.st.Group(ctx, name)
	}
	gs, err := s.st.Groups(ctx)
	if err != nil {
		return store.NodeGroup{}, err
	}
	switch len(gs) {
	case 0:
		return store.NodeGroup{}, fmt.Errorf("no node group to join: %w", store.ErrNotFound)
	case 1:
		return gs[0], nil
	default:
		return store.NodeGroup{}, badRequest("group: required when there are %d groups", len(gs))
	}
}

// groupOrigins returns host:rtmp_port of the group's in-service origins
// and allinone nodes.
func (s *Server) groupOrigins(ctx context.Context, group string) ([]string, error) {
	nodes, err := s.st.Nodes(ctx, store.NodeFilter{Group: group, States: []store.NodeState{store.NodeInService}})
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, n := range nodes {
		if n.Role.Publishes() {
			out = append(out, n.HostPort())
		}
	}
	return out, nil
}

// report stores a node's load report and feeds it to the selector. A node
// that was FAULT is back in service; a node the manager does not know
// gets 404 and must register again.
func (s *Server) report(w http.ResponseWriter, r *http.Request) error {
	var req agentapi.Report
	if err := decodeJSON(w, r, reportLimit, &req); err != nil {
		return err
	}
	rep, err := toReport(req)
	if err != nil {
		return err
	}
	ctx := r.Context()
	n, err := s.st.NodeByIdentifier(ctx, req.NodeID)
	if err != nil {
		return err
	}
	switch n.State {
	case store.NodePending, store.NodeRunning:
		return fmt.Errorf("node %s is %s: register first: %w", n.Identifier, n.State, store.ErrConflict)
	case store.NodeFault:
		if n, err = s.st.SetNodeState(ctx, n.ID, store.NodeInService, "reports resumed"); err != nil {
			return err
		}
		s.logger.Info("node back in service", "node", n.Identifier)
	}
	if err := s.st.SaveReport(ctx, n.ID, rep); err != nil {
		return err
	}
	s.sel.Observe(ctx, n.ID, rep)
	if s.cfg.OnReport != nil {
		s.cfg.OnReport(n.Identifier, req)
	}
	parents := n.Parents
	if parents == nil {
		parents = []string{}
	}
	writeJSON(w, http.StatusOK, agentapi.ReportResponse{State: strings.ToLower(string(n.State)), Draining: n.Draining, Parents: parents})
	return nil
}

func toReport(req agentapi.Report) (store.Report, error) {
	if req.NodeID == "" {
		return store.Report{}, badRequest("node_id: required")
	}
	nums := []struct {
		name string
		v    int64
	}{
		{"connections", int64(req.Connections)},
		{"publishers", int64(req.Publishers)},
		{"subscribers", int64(req.Subscribers)},
		{"bytes_in_per_s", req.BytesInPerS},
		{"bytes_out_per_s", req.BytesOutPerS},
		{"memory_bytes", req.MemoryBytes},
	}
	for _, f := range nums {
		if f.v < 0 {
			return store.Report{}, badRequest("%s: must be >= 0, got %d", f.name, f.v)
		}
	}
	if req.CPU < 0 {
		return store.Report{}, badRequest("cpu: must be >= 0, got %v", req.CPU)
	}
	rep := store.Report{
		Connections: req.Connections, Publishers: req.Publishers, Subscribers: req.Subscribers,
		BytesInPerS: req.BytesInPerS, BytesOutPerS: req.BytesOutPerS, CPU: req.CPU, MemoryBytes: req.MemoryBytes,
		Streams: make([]store.StreamReport, 0, len(req.Streams)),
	}
	for i, st := range req.Streams {
		scope := strings.Trim(st.Scope, "/")
		switch {
		case scope == "":
			return store.Report{}, badRequest("streams[%d].scope: required", i)
		case st.Name == "" || strings.Contains(st.Name, "/"):
			return store.Report{}, badRequest("streams[%d].name: must be a non-empty name without '/', got %q", i, st.Name)
		case st.Subscribers < 0:
			return store.Report{}, badRequest("streams[%d].subscribers: must be >= 0, got %d", i, st.Subscribers)
		}
		rep.Streams = append(rep.Streams, store.StreamReport{Scope: scope, Name: st.Name, Publishing: st.Publishing, Subscribers: st.Subscribers})
	}
	rep.StreamCount = len(rep.Streams)
	return rep, nil
}

// clusterOrigin tells an edge which node publishes ?scope=&stream=.
func (s *Server) clusterOrigin(w http.ResponseWriter, r *http.Request) error {
	v := r.URL.Query()
	scope, name := strings.Trim(v.Get("scope"), "/"), v.Get("stream")
	if scope == "" {
		return badRequest("scope: required")
	}
	if name == "" {
		return badRequest("stream: required")
	}
	n, err := s.sel.Origin(r.Context(), scope, name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, agentapi.OriginResponse{
		NodeID: n.Identifier, Host: n.Address, RTMPPort: n.RTMPPort,
		RTMPURL: agentapi.RTMPURL(n.Address, n.RTMPPort, scope, name),
	})
	return nil
}
