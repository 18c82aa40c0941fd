package api

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"regexp"

	"github.com/shoal-live/shoal/internal/store"
)

// groupJSON is the Red5 Pro node group shape.
type groupJSON struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	// OriginConnections is "reserved for future use, always 0" in Red5 Pro.
	OriginConnections int      `json:"originConnections"`
	Regions           []string `json:"regions"`
	LaunchConfig      string   `json:"launchConfig"`
	ScalePolicy       string   `json:"scalePolicy"`
	State             string   `json:"state"`
	Timestamp         int64    `json:"timestamp"`
}

func toGroupJSON(g store.NodeGroup) groupJSON {
	return groupJSON{
		ID: g.ID, Name: g.Name, Regions: g.Regions, LaunchConfig: g.LaunchConfig,
		ScalePolicy: g.ScalePolicy, State: string(g.State), Timestamp: g.CreatedAt.UnixMilli(),
	}
}

// createGroupRequest is the body of POST /admin/nodegroup. Name is
// Shoal's addition; Red5 Pro always generates it.
type createGroupRequest struct {
	Name         string   `json:"name"`
	Regions      []string `json:"regions"`
	LaunchConfig string   `json:"launchConfig"`
	ScalePolicy  string   `json:"scalePolicy"`
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// checkName validates a user-chosen name of a group, policy or launch
// configuration.
func checkName(field, name string) error {
	if name == "" {
		return badRequest("%s: required", field)
	}
	if !nameRE.MatchString(name) {
		return badRequest("%s: must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit, got %q", field, name)
	}
	return nil
}

// newGroupName returns "group-<uuid v4>".
func newGroupName() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand since Go 1.24)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("group-%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) error {
	var req createGroupRequest
	if err := decodeJSON(w, r, bodyLimit, &req); err != nil {
		return err
	}
	if req.Name == "" {
		req.Name = newGroupName()
	} else if err := checkName("name", req.Name); err != nil {
		return err
	}
	if len(req.Regions) == 0 {
		return badRequest("regions: at least one region is required")
	}
	for i, reg := range req.Regions {
		if reg == "" {
			return badRequest("regions[%d]: empty region name", i)
		}
	}
	ctx := r.Context()
	if err := checkName("launchConfig", req.LaunchConfig); err != nil {
		return err
	}
	if _, err := s.st.LaunchConfig(ctx, req.LaunchConfig); errors.Is(err, store.ErrNotFound) {
		return badRequest("launchConfig: no launch configuration named %q", req.LaunchConfig)
	} else if err != nil {
		return err
	}
	if err := checkName("scalePolicy", req.ScalePolicy); err != nil {
		return err
	}
	if _, err := s.st.Policy(ctx, req.ScalePolicy); errors.Is(err, store.ErrNotFound) {
		return badRequest("scalePolicy: no scale policy named %q", req.ScalePolicy)
	} else if err != nil {
		return err
	}
	g, err := s.st.CreateGroup(ctx, store.NodeGroup{Name: req.Name, Regions: req.Regions, LaunchConfig: req.LaunchConfig, ScalePolicy: req.ScalePolicy})
	if err != nil {
		return err
	}
	s.logger.Info("node group created", "group", g.Name)
	writeJSON(w, http.StatusCreated, toGroupJSON(g))
	return nil
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) error {
	gs, err := s.st.Groups(r.Context())
	if err != nil {
		return err
	}
	out := make([]groupJSON, len(gs))
	for i, g := range gs {
		out[i] = toGroupJSON(g)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := s.st.Group(r.Context(), r.PathValue("group"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toGroupJSON(g))
	return nil
}

// deleteGroup marks the group deleting (its nodes get no new clients) and
// hands it to the group remover, which terminates the nodes in the
// background and then deletes the group. A group without nodes is
// deleted at once.
func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := r.PathValue("group")
	g, err := s.st.Group(ctx, name)
	if err != nil {
		return err
	}
	nodes, err := s.st.Nodes(ctx, store.NodeFilter{Group: name})
	if err != nil {
		return err
	}
	if len(nodes) == 0 {
		if g, err = s.st.DeleteGroup(ctx, name); err != nil {
			return err
		}
		s.logger.Info("node group deleted", "group", name)
		writeJSON(w, http.StatusOK, toGroupJSON(g))
		return nil
	}
	if s.cfg.GroupRemover == nil {
		return fmt.Errorf("delete group %s with %d nodes: no provider configured: %w", name, len(nodes), errUnavailable)
	}
	if err := s.st.SetGroupState(ctx, name, store.GroupDeleting); err != nil {
		return err
	}
	if err := s.cfg.GroupRemover.RemoveGroup(ctx, name); err != nil {
		return fmt.Errorf("remove group %s: %w", name, err)
	}
	g.State = store.GroupDeleting
	s.logger.Info("node group deleting", "group", name, "nodes", len(nodes))
	writeJSON(w, http.StatusOK, toGroupJSON(g))
	return nil
}

// roleLoad is one entry of targetTypeLoadSummary.
type roleLoad struct {
	Type                  string `json:"type"`
	TotalNodeCount        int    `json:"totalNodeCount"`
	TotalActiveNodeCount  int    `json:"totalActiveNodeCount"`
	NetConnectionCapacity int    `json:"netConnectionCapacity"`
	NetConnectionLoad     int    `json:"netConnectionLoad"`
}

// groupStatsJSON is the Red5 Pro shape of GET /admin/nodegroup/{group}/stats.
type groupStatsJSON struct {
	TotalConnections      int        `json:"totalConnections"`
	TargetTypeLoadSummary []roleLoad `json:"targetTypeLoadSummary"`
}

// groupStats sums, per role, the nodes, the in-service nodes, their
// connection capacity and their connections from the latest reports.
func (s *Server) groupStats(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := r.PathValue("group")
	if _, err := s.st.Group(ctx, name); err != nil {
		return err
	}
	nodes, err := s.st.Nodes(ctx, store.NodeFilter{Group: name})
	if err != nil {
		return err
	}
	reports, err := s.st.Reports(ctx, name)
	if err != nil {
		return err
	}
	conns := make(map[int64]int, len(reports))
	for _, rep := range reports {
		conns[rep.NodeID] = rep.Connections
	}
	out := groupStatsJSON{TargetTypeLoadSummary: []roleLoad{}}
	byRole := map[store.Role]*roleLoad{}
	for _, role := range store.Roles {
		byRole[role] = &roleLoad{Type: string(role)}
	}
	for _, n := range nodes {
		l := byRole[n.Role]
		l.TotalNodeCount++
		if n.State == store.NodeInService {
			l.TotalActiveNodeCount++
			l.NetConnectionCapacity += n.Capacity
			l.NetConnectionLoad += conns[n.ID]
			out.TotalConnections += conns[n.ID]
		}
	}
	for _, role := range store.Roles {
		if l := byRole[role]; l.TotalNodeCount > 0 {
			out.TargetTypeLoadSummary = append(out.TargetTypeLoadSummary, *l)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
