package streammanager

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/shoal-live/shoal/internal/scaler"
	"github.com/shoal-live/shoal/internal/store"
)

// recorder stores the autoscaler's events as scaling events (scaler's
// eventRecorder).
type recorder struct{ m *Manager }

// eventDetails is the details object of a scaling event recorded for the
// autoscaler.
type eventDetails struct {
	Mode    string      `json:"mode"`
	Replace bool        `json:"replace,omitempty"`
	Load    scaler.Load `json:"load"`
	Error   string      `json:"error,omitempty"`
}

// RecordScalingEvent stores ev, with the identifier of the node a launch
// created. A launch is scale_out (replace when it
// replaces a failed launch or a lost node), a drain is scale_in (the first
// step of removing a node), a terminate is terminate. A failed action is
// recorded too, with the error in the reason and the details.
func (r recorder) RecordScalingEvent(ctx context.Context, ev scaler.Event) error {
	se := store.ScalingEvent{Group: ev.Group, Role: store.Role(ev.Role), Action: scalingAction(ev), NodeID: ev.NodeID, Reason: ev.Reason, At: ev.Time}
	if ev.Action == scaler.ActionLaunch {
		k := roleKey{ev.Group, store.Role(ev.Role)}
		r.m.mu.Lock()
		if ev.Err == "" {
			se.NodeID = r.m.mu.launched[k]
		}
		delete(r.m.mu.launched, k)
		r.m.mu.Unlock()
	}
	if ev.Err != "" {
		se.Reason += " (failed: " + ev.Err + ")"
	}
	d, err := json.Marshal(eventDetails{Mode: ev.Mode.String(), Replace: ev.Replace, Load: ev.Load, Error: ev.Err})
	if err != nil {
		return fmt.Errorf("encode scaling event details: %w", err)
	}
	se.Details = d
	_, err = r.m.st.AddScalingEvent(ctx, se)
	return err
}

func scalingAction(ev scaler.Event) store.Action {
	switch ev.Action {
	case scaler.ActionLaunch:
		if ev.Replace {
			return store.ActionReplace
		}
		return store.ActionScaleOut
	case scaler.ActionDrain:
		return store.ActionScaleIn
	case scaler.ActionTerminate:
		return store.ActionTerminate
	default:
		return store.ActionNone
	}
}

// recordAPIEvent stores an action taken for an API call; a failure to
// record is logged, since the action itself was carried out.
func (m *Manager) recordAPIEvent(ctx context.Context, se store.ScalingEvent) {
	se.Details = json.RawMessage(`{"source":"api"}`)
	if _, err := m.st.AddScalingEvent(ctx, se); err != nil {
		m.logger.Warn("recording a scaling event failed", "group", se.Group, "action", string(se.Action), "err", err)
	}
}
