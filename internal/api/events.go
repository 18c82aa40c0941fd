package api

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/shoal-live/shoal/internal/agentapi"
	"github.com/shoal-live/shoal/internal/store"
)

// eventResponse is the Red5 Pro answer to a broadcast or subscribe lookup,
// plus ready-made URLs (Shoal's additions).
type eventResponse struct {
	Name          string `json:"name"`
	Scope         string `json:"scope"`
	ServerAddress string `json:"serverAddress"`
	Region        string `json:"region"`
	// RTMPURL is rtmp://host:rtmp_port/scope/name.
	RTMPURL string `json:"rtmpUrl"`
	// WSURL is the node's shared-object WebSocket for the scope,
	// ws://host:http_port/so/scope.
	WSURL string `json:"wsUrl"`
}

// streamStats is the Red5 Pro answer to GET /event/{scope}/{stream}/stats.
type streamStats struct {
	Name               string `json:"name"`
	Scope              string `json:"scope"`
	ServerAddress      string `json:"serverAddress"`
	Region             string `json:"region"`
	CurrentSubscribers int    `json:"currentSubscribers"`
	StartTime          int64  `json:"startTime"`
}

// listedStream is one entry of GET /event/list.
type listedStream struct {
	Type          string `json:"type"`
	Name          string `json:"name"`
	Scope         string `json:"scope"`
	ServerAddress string `json:"serverAddress"`
	Region        string `json:"region"`
}

// splitEventPath splits the wildcard of /event/{path...} into scope,
// stream and whether the stats of the stream are asked for. The last
// segment is the stream and the ones before it the scope
// ("live/room1/stream1"), except that a trailing "stats" after at least a
// scope and a stream asks for stats ("live/stream1/stats").
func splitEventPath(p string) (scope, name string, stats bool, err error) {
	segs := strings.Split(strings.Trim(p, "/"), "/")
	for _, s := range segs {
		if s == "" {
			return "", "", false, badRequest("path: empty segment in %q", p)
		}
	}
	if len(segs) >= 3 && segs[len(segs)-1] == "stats" {
		stats, segs = true, segs[:len(segs)-1]
	}
	if len(segs) < 2 {
		return "", "", false, badRequest("path: want /event/{scope}/{stream}, got %q", "/event/"+p)
	}
	return strings.Join(segs[:len(segs)-1], "/"), segs[len(segs)-1], stats, nil
}

func (s *Server) event(w http.ResponseWriter, r *http.Request) error {
	scope, name, stats, err := splitEventPath(r.PathValue("path"))
	if err != nil {
		return err
	}
	if stats {
		return s.streamStats(w, r, scope, name)
	}
	q, err := parseEventQuery(r, scope, name)
	if err != nil {
		return err
	}
	nodes, err := s.sel.Select(r.Context(), q)
	if err != nil {
		return err
	}
	out := make([]eventResponse, len(nodes))
	for i, n := range nodes {
		out[i] = eventResponse{
			Name: name, Scope: "/" + scope, ServerAddress: n.Address, Region: n.Region,
			RTMPURL: agentapi.RTMPURL(n.Address, n.RTMPPort, scope, name),
			WSURL:   "ws://" + net.JoinHostPort(n.Address, strconv.Itoa(n.HTTPPort)) + "/so/" + scope,
		}
	}
	if q.Endpoints > 1 {
		writeJSON(w, http.StatusOK, out)
	} else {
		writeJSON(w, http.StatusOK, out[0])
	}
	return nil
}

func parseEventQuery(r *http.Request, scope, name string) (Query, error) {
	v := r.URL.Query()
	q := Query{Action: Action(v.Get("action")), Scope: scope, Name: name, Region: v.Get("region"), Group: v.Get("group"), Endpoints: 1}
	switch q.Action {
	case ActionBroadcast, ActionSubscribe:
	case "":
		return Query{}, badRequest("action: required (broadcast or subscribe)")
	default:
		return Query{}, badRequest("action: must be broadcast or subscribe, got %q", q.Action)
	}
	if s := v.Get("strict"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return Query{}, badRequest("strict: must be true or false, got %q", s)
		}
		q.Strict = b
	}
	if s := v.Get("endpoints"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			return Query{}, badRequest("endpoints: must be an integer from 1 to 100, got %q", s)
		}
		q.Endpoints = n
	}
	if v.Get("transcode") == "true" {
		return Query{}, badRequest("transcode: transcoding is not supported")
	}
	if v.Get("geozone") != "" {
		return Query{}, badRequest("geozone: geozones are not supported, use region")
	}
	return q, nil
}

// streamStats answers with the stream's origin, its start time and the
// subscribers on all nodes (origin and edges).
func (s *Server) streamStats(w http.ResponseWriter, r *http.Request, scope, name string) error {
	ctx := r.Context()
	rows, err := s.st.Streams(ctx, store.StreamFilter{Scope: scope, Name: name, InService: true})
	if err != nil {
		return err
	}
	out := streamStats{Name: name, Scope: "/" + scope}
	var origin *store.Stream
	for i, st := range rows {
		out.CurrentSubscribers += st.Subscribers
		if st.Role == store.StreamOrigin && origin == nil {
			origin = &rows[i]
		}
	}
	if origin == nil {
		return fmt.Errorf("stream %s/%s is not published: %w", scope, name, store.ErrNotFound)
	}
	n, err := s.st.Node(ctx, origin.NodeID)
	if err != nil {
		return err
	}
	out.ServerAddress, out.Region, out.StartTime = n.Address, n.Region, origin.StartedAt.UnixMilli()
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	nodes, err := s.st.Nodes(ctx, store.NodeFilter{States: []store.NodeState{store.NodeInService}})
	if err != nil {
		return err
	}
	byID := make(map[int64]store.Node, len(nodes))
	for _, n := range nodes {
		byID[n.ID] = n
	}
	rows, err := s.st.Streams(ctx, store.StreamFilter{InService: true})
	if err != nil {
		return err
	}
	out := make([]listedStream, 0, len(rows))
	for _, st := range rows {
		n, ok := byID[st.NodeID]
		if !ok {
			continue // changed state between the two reads
		}
		out = append(out, listedStream{Type: string(st.Role), Name: st.Name, Scope: "/" + st.Scope, ServerAddress: n.Address, Region: n.Region})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
