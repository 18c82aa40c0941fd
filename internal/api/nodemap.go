package api

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/shoal-live/shoal/internal/store"
)

// groupMap answers GET /admin/nodegroup/{group}/node/map and
// .../node/relations with a text tree of the group:
//
//	GROUP g (active)
//	ORIGINS
//	  ORIGIN node-a 10.0.0.1:1935 inservice
//	    EDGE node-b 10.0.0.2:1935 inservice [ESTABLISHED]
//	TRANSCODERS
//	  (none)
//	UNLINKED
//	  EDGE node-c 10.0.0.3:1935 pending
//
// A node is a child of every node listed in its parents (relays between
// origins and edges nest the same way). With linkstate=true, a child that
// currently relays a stream its parent carries is marked
// [ESTABLISHED], otherwise [IDLE].
func (s *Server) groupMap(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := r.PathValue("group")
	linkState := false
	if v := r.URL.Query().Get("linkstate"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return badRequest("linkstate: must be true or false, got %q", v)
		}
		linkState = b
	}
	g, err := s.st.Group(ctx, name)
	if err != nil {
		return err
	}
	nodes, err := s.st.Nodes(ctx, store.NodeFilter{Group: name})
	if err != nil {
		return err
	}
	var streams []store.Stream
	if linkState {
		if streams, err = s.st.Streams(ctx, store.StreamFilter{Group: name}); err != nil {
			return err
		}
	}
	carried := carriedStreams(streams)

	byAddr := map[string]store.Node{}
	for _, n := range nodes {
		byAddr[n.HostPort()] = n
	}
	children := map[int64][]store.Node{}
	linked := map[int64]bool{}
	for _, n := range nodes {
		for _, p := range n.Parents {
			if parent, ok := byAddr[p]; ok && parent.ID != n.ID {
				children[parent.ID] = append(children[parent.ID], n)
				linked[n.ID] = true
			}
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "GROUP %s (%s)\n", g.Name, g.State)
	line := func(depth int, n store.Node, mark string) {
		fmt.Fprintf(&b, "%s%s %s %s %s%s\n", strings.Repeat("  ", depth), strings.ToUpper(string(n.Role)),
			n.Identifier, n.HostPort(), strings.ToLower(string(n.State)), mark)
	}
	var walk func(depth int, n store.Node, seen []int64)
	walk = func(depth int, n store.Node, seen []int64) {
		for _, c := range children[n.ID] {
			if slices.Contains(seen, c.ID) {
				continue // a parent cycle; print each node once per branch
			}
			mark := ""
			if linkState {
				mark = " [IDLE]"
				if established(carried, n.ID, c.ID) {
					mark = " [ESTABLISHED]"
				}
			}
			line(depth, c, mark)
			walk(depth+1, c, append(seen, c.ID))
		}
	}
	section := func(title string, keep func(store.Node) bool, tree bool) {
		b.WriteString(title + "\n")
		found := false
		for _, n := range nodes {
			if keep(n) {
				found = true
				line(1, n, "")
				if tree {
					walk(2, n, []int64{n.ID})
				}
			}
		}
		if !found {
			b.WriteString("  (none)\n")
		}
	}
	section("ORIGINS", func(n store.Node) bool { return n.Role.Publishes() }, true)
	section("TRANSCODERS", func(n store.Node) bool { return n.Role == store.RoleTranscoder }, false)
	section("UNLINKED", func(n store.Node) bool {
		return !n.Role.Publishes() && n.Role != store.RoleTranscoder && !linked[n.ID]
	}, true)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
	return nil
}

// streamSet is what one node carries: stream → relayed (true) or
// published (false).
type streamSet map[[2]string]bool

func carriedStreams(streams []store.Stream) map[int64]streamSet {
	out := map[int64]streamSet{}
	for _, st := range streams {
		if out[st.NodeID] == nil {
			out[st.NodeID] = streamSet{}
		}
		out[st.NodeID][[2]string{st.Scope, st.Name}] = st.Role == store.StreamEdge
	}
	return out
}

// established reports whether child relays a stream that parent carries.
func established(carried map[int64]streamSet, parent, child int64) bool {
	for k, relayed := range carried[child] {
		if _, ok := carried[parent][k]; ok && relayed {
			return true
		}
	}
	return false
}
