package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/shoal-live/shoal/internal/store"
)

// nodeJSON is the Red5 Pro node shape plus Shoal's fields (id, region,
// ports, draining).
type nodeJSON struct {
	ID               int64  `json:"id"`
	Identifier       string `json:"identifier"`
	Role             string `json:"role"`
	Group            string `json:"group"`
	Region           string `json:"region"`
	AvailabilityZone string `json:"availabilityZone"`
	Address          string `json:"address"`
	RTMPPort         int    `json:"rtmpPort"`
	HTTPPort         int    `json:"httpPort"`
	State            string `json:"state"`
	Draining         bool   `json:"draining"`
	LaunchConfig     string `json:"launchConfig"`
	Capacity         int    `json:"capacity"`
}

func toNodeJSON(n store.Node) nodeJSON {
	return nodeJSON{
		ID: n.ID, Identifier: n.Identifier, Role: string(n.Role), Group: n.Group, Region: n.Region,
		AvailabilityZone: n.Zone, Address: n.Address, RTMPPort: n.RTMPPort, HTTPPort: n.HTTPPort,
		State: strings.ToLower(string(n.State)), Draining: n.Draining, LaunchConfig: n.LaunchConfig, Capacity: n.Capacity,
	}
}

// launchedJSON is the Red5 Pro answer to launching an origin.
type launchedJSON struct {
	ID               int64  `json:"id"`
	Identifier       string `json:"identifier"`
	AvailabilityZone string `json:"availabilityZone"`
	Role             string `json:"role"`
	Group            string `json:"group"`
	RequestTime      int64  `json:"requestTime"`
}

// nodeStatsJSON is the Red5 Pro shape of GET /admin/node/{addr}/stats.
type nodeStatsJSON struct {
	nodeJSON
	TotalConnections int      `json:"totalConnections"`
	Parents          []string `json:"parents"`
	LastTrafficTime  int64    `json:"lastTrafficTime"`
	LastPing         int64    `json:"lastPing"`
}

func (s *Server) launchOrigin(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := r.PathValue("group")
	g, err := s.st.Group(ctx, name)
	if err != nil {
		return err
	}
	if g.State == store.GroupDeleting {
		return fmt.Errorf("group %s is being deleted: %w", name, store.ErrConflict)
	}
	if s.cfg.Launcher == nil {
		return fmt.Errorf("launch origin in %s: no provider configured: %w", name, errUnavailable)
	}
	n, err := s.cfg.Launcher.LaunchOrigin(ctx, name)
	if err != nil {
		return fmt.Errorf("launch origin in %s: %w", name, err)
	}
	s.logger.Info("origin launch requested", "group", name, "node", n.Identifier)
	writeJSON(w, http.StatusCreated, launchedJSON{
		ID: n.ID, Identifier: n.Identifier, AvailabilityZone: n.Zone,
		Role: string(n.Role), Group: n.Group, RequestTime: n.CreatedAt.UnixMilli(),
	})
	return nil
}

func (s *Server) listGroupNodes(w http.ResponseWriter, r *http.Request) error {
	return s.writeGroupNodes(w, r, "")
}

func (s *Server) listGroupOrigins(w http.ResponseWriter, r *http.Request) error {
	return s.writeGroupNodes(w, r, store.RoleOrigin)
}

func (s *Server) listGroupEdges(w http.ResponseWriter, r *http.Request) error {
	return s.writeGroupNodes(w, r, store.RoleEdge)
}

func (s *Server) writeGroupNodes(w http.ResponseWriter, r *http.Request, role store.Role) error {
	ctx := r.Context()
	name := r.PathValue("group")
	if _, err := s.st.Group(ctx, name); err != nil {
		return err
	}
	nodes, err := s.st.Nodes(ctx, store.NodeFilter{Group: name, Role: role})
	if err != nil {
		return err
	}
	out := make([]nodeJSON, len(nodes))
	for i, n := range nodes {
		out[i] = toNodeJSON(n)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// findNode resolves the {addr} of /admin/node/{addr}: a node identifier, a
// host:rtmp_port, or a host shared by no other node.
func (s *Server) findNode(ctx context.Context, addr string) (store.Node, error) {
	n, err := s.st.NodeByIdentifier(ctx, addr)
	if errors.Is(err, store.ErrNotFound) {
		return s.st.NodeByAddress(ctx, addr)
	}
	return n, err
}

func (s *Server) getNode(w http.ResponseWriter, r *http.Request) error {
	n, err := s.findNode(r.Context(), r.PathValue("addr"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toNodeJSON(n))
	return nil
}

func (s *Server) nodeStats(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	n, err := s.findNode(ctx, r.PathValue("addr"))
	if err != nil {
		return err
	}
	out := nodeStatsJSON{nodeJSON: toNodeJSON(n), Parents: n.Parents, LastPing: msOrZero(n.LastPing.UnixMilli(), n.LastPing.IsZero())}
	rep, err := s.st.LastReport(ctx, n.ID)
	switch {
	case err == nil:
		out.TotalConnections, out.LastTrafficTime = rep.Connections, rep.At.UnixMilli()
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func msOrZero(v int64, zero bool) int64 {
	if zero {
		return 0
	}
	return v
}

// terminateNode terminates a node. Like Red5 Pro it requires the node to
// be INSERVICE unless force=true.
func (s *Server) terminateNode(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	force := false
	if v := r.URL.Query().Get("force"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return badRequest("force: must be true or false, got %q", v)
		}
		force = b
	}
	n, err := s.findNode(ctx, r.PathValue("addr"))
	if err != nil {
		return err
	}
	if !force && n.State != store.NodeInService {
		return fmt.Errorf("node %s is %s, only INSERVICE nodes can be terminated without force=true: %w",
			n.Identifier, n.State, store.ErrConflict)
	}
	if s.cfg.Launcher == nil {
		return fmt.Errorf("terminate node %s: no provider configured: %w", n.Identifier, errUnavailable)
	}
	if err := s.cfg.Launcher.Terminate(ctx, n.Identifier, force); err != nil {
		return fmt.Errorf("terminate node %s: %w", n.Identifier, err)
	}
	s.logger.Info("node termination requested", "node", n.Identifier, "force", force)
	if after, err := s.st.Node(ctx, n.ID); err == nil {
		n = after
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	writeJSON(w, http.StatusOK, toNodeJSON(n))
	return nil
}

// sunsetNodes marks the listed nodes draining, so they get no new clients
// from now on, and hands them to the launcher, which replaces them and
// terminates them once empty. The body is a JSON array of addresses.
func (s *Server) sunsetNodes(w http.ResponseWriter, r *http.Request) error {
	var addrs []string
	if err := decodeJSON(w, r, bodyLimit, &addrs); err != nil {
		return err
	}
	if len(addrs) == 0 {
		return badRequest("body: want a non-empty array of node addresses")
	}
	ctx := r.Context()
	nodes := make([]store.Node, 0, len(addrs))
	for i, a := range addrs {
		if a == "" {
			return badRequest("[%d]: empty address", i)
		}
		n, err := s.findNode(ctx, a)
		if err != nil {
			return err
		}
		nodes = append(nodes, n)
	}
	if s.cfg.Launcher == nil {
		return fmt.Errorf("sunset: no provider configured: %w", errUnavailable)
	}
	ids := make([]string, len(nodes))
	out := make([]nodeJSON, len(nodes))
	for i, n := range nodes {
		drained, err := s.st.SetNodeDraining(ctx, n.ID, true, "sunset requested")
		if err != nil {
			return err
		}
		ids[i], out[i] = drained.Identifier, toNodeJSON(drained)
	}
	if err := s.cfg.Launcher.Sunset(ctx, ids); err != nil {
		return fmt.Errorf("sunset: %w", err)
	}
	s.logger.Info("sunset requested", "nodes", strings.Join(ids, ","))
	writeJSON(w, http.StatusOK, out)
	return nil
}
