package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/shoal-live/shoal/internal/store"
)

// listScalingEvents answers GET /admin/scalingevents?group=&since=&limit=
// (Shoal's own) with the autoscaler's decisions, newest first, in the
// store's snake_case shape. since is Unix milliseconds.
func (s *Server) listScalingEvents(w http.ResponseWriter, r *http.Request) error {
	v := r.URL.Query()
	f := store.ScalingEventFilter{Group: v.Get("group"), Limit: 100}
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 10000 {
			return badRequest("limit: must be an integer from 1 to 10000, got %q", l)
		}
		f.Limit = n
	}
	if since := v.Get("since"); since != "" {
		n, err := strconv.ParseInt(since, 10, 64)
		if err != nil || n < 0 {
			return badRequest("since: must be Unix milliseconds, got %q", since)
		}
		f.Since = time.UnixMilli(n)
	}
	evs, err := s.st.ScalingEvents(r.Context(), f)
	if err != nil {
		return err
	}
	if evs == nil {
		evs = []store.ScalingEvent{}
	}
	writeJSON(w, http.StatusOK, evs)
	return nil
}
