package api

import (
	"net/http"
	"strconv"

	"github.com/shoal-live/shoal/internal/store"
)

// alarmJSON is the Red5 Pro scale-out alarm shape, plus the role it
// belongs to.
type alarmJSON struct {
	ID         int64  `json:"id"`
	Type       string `json:"type"`
	Metric     string `json:"metric"`
	Unit       string `json:"unit"`
	Threshold  int    `json:"threshold"`
	Comparator string `json:"comparator"`
	TargetType string `json:"targetType"`
	Role       string `json:"role"`
}

func toAlarmJSON(a store.Alarm) alarmJSON {
	return alarmJSON{
		ID: a.ID, Type: "SCALEOUTALARM", Metric: "CONNECTIONS", Unit: "PERCENTAGE", Threshold: a.Threshold,
		Comparator: "GREATERTHAN", TargetType: "GROUP", Role: string(a.Role),
	}
}

func alarmRole(r *http.Request) (store.Role, error) {
	t := r.URL.Query().Get("type")
	if t == "" {
		return "", badRequest("type: required (one of %v)", store.Roles)
	}
	role := store.Role(t)
	if !role.Valid() {
		return "", badRequest("type: must be one of %v, got %q", store.Roles, t)
	}
	return role, nil
}

func (s *Server) getAlarm(w http.ResponseWriter, r *http.Request) error {
	role, err := alarmRole(r)
	if err != nil {
		return err
	}
	a, err := s.st.Alarm(r.Context(), role)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAlarmJSON(a))
	return nil
}

// setAlarm changes a role's scale-out threshold. Red5 Pro warns against
// changing it under live traffic; Shoal's autoscaler reads it on every
// evaluation, so a change applies from the next tick.
func (s *Server) setAlarm(w http.ResponseWriter, r *http.Request) error {
	role, err := alarmRole(r)
	if err != nil {
		return err
	}
	v := r.URL.Query().Get("threshold")
	th, err := strconv.Atoi(v)
	if err != nil || th < 1 || th > 100 {
		return badRequest("threshold: must be an integer from 1 to 100, got %q", v)
	}
	a, err := s.st.SetAlarm(r.Context(), role, th)
	if err != nil {
		return err
	}
	s.logger.Info("scale-out alarm changed", "role", string(role), "threshold", th)
	writeJSON(w, http.StatusOK, toAlarmJSON(a))
	return nil
}
