package streammanager

import (
	"net/http"
	"strings"
	"sync"

	"github.com/shoal-live/shoal/internal/api"
	"github.com/shoal-live/shoal/internal/store"
)

// roleKey names one role of one group.
type roleKey struct {
	group string
	role  store.Role
}

// refusals counts the publisher and subscriber lookups the API refused
// because no node could take the client (503), by group and role, between
// two evaluations of the autoscaler. They are the scaler's unplaced
// demand: with no edge in service, subscribers knocking at the door are
// load that no report shows.
type refusals struct {
	mu     sync.Mutex
	counts map[roleKey]int // guarded by mu
}

func (r *refusals) add(k roleKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts[k]++
}

// take returns the counts since the last take and starts again from zero.
func (r *refusals) take() map[roleKey]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.counts
	r.counts = make(map[roleKey]int, len(c))
	return c
}

// statusWriter remembers the status of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// countRefusals wraps the API: a broadcast or subscribe lookup answered 503
// is counted against the group and role that could not take the client.
func (m *Manager) countRefusals(next http.Handler) http.Handler {
	eventPrefix := api.BasePath + "/event/"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		action := r.URL.Query().Get("action")
		if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, eventPrefix) ||
			(action != string(api.ActionBroadcast) && action != string(api.ActionSubscribe)) {
			next.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		if sw.status != http.StatusServiceUnavailable {
			return
		}
		if k, ok := m.refusedRole(r, action, strings.TrimPrefix(r.URL.Path, eventPrefix)); ok {
			m.refusals.add(k)
			m.logger.Debug("lookup refused", "action", action, "group", k.group, "role", string(k.role))
		}
	})
}

// refusedRole finds the group and role a refused lookup needed: the edges
// of the group of the stream's origin for a subscriber, the origins of the
// requested (or only) group for a publisher.
func (m *Manager) refusedRole(r *http.Request, action, path string) (roleKey, bool) {
	ctx := r.Context()
	if action == string(api.ActionSubscribe) {
		i := strings.LastIndexByte(path, '/')
		if i <= 0 {
			return roleKey{}, false
		}
		origin, err := m.sel.Origin(ctx, strings.Trim(path[:i], "/"), path[i+1:])
		if err != nil {
			return roleKey{}, false
		}
		return roleKey{origin.Group, store.RoleEdge}, true
	}
	if g := r.URL.Query().Get("group"); g != "" {
		return roleKey{g, store.RoleOrigin}, true
	}
	groups, err := m.st.Groups(ctx)
	if err != nil || len(groups) != 1 {
		return roleKey{}, false // several groups: no way to tell which one was short
	}
	return roleKey{groups[0].Name, store.RoleOrigin}, true
}
