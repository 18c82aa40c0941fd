package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Action is what the autoscaler did (or decided not to do).
type Action string

// Scaling actions.
const (
	ActionScaleOut  Action = "scale_out"
	ActionScaleIn   Action = "scale_in"
	ActionDrain     Action = "drain"
	ActionTerminate Action = "terminate"
	ActionReplace   Action = "replace"
	// ActionNone records a decision to wait (cool-down, max reached).
	ActionNone Action = "none"
)

// ScalingEvent records one autoscaler decision.
type ScalingEvent struct {
	ID     int64  `json:"id"`
	Group  string `json:"group"`
	Role   Role   `json:"role"`
	Action Action `json:"action"`
	// NodeID is the identifier of the node acted on, if any.
	NodeID string `json:"node_id"`
	// Reason is a sentence with the numbers the decision was based on.
	Reason string `json:"reason"`
	// Details is a JSON object with the decision's inputs; nil is {}.
	Details json.RawMessage `json:"details"`
	At      time.Time       `json:"at"`
}

// ScalingEventFilter selects scaling events; zero fields match everything.
type ScalingEventFilter struct {
	Group string
	Since time.Time
	// Limit caps the number of events (newest kept); 0 means 1000.
	Limit int
}

// AddScalingEvent records e. A zero At is the current time. It returns e
// with its id.
func (s *Store) AddScalingEvent(ctx context.Context, e ScalingEvent) (ScalingEvent, error) {
	if e.At.IsZero() {
		e.At = now()
	}
	if len(e.Details) == 0 {
		e.Details = json.RawMessage("{}")
	}
	if !json.Valid(e.Details) {
		return ScalingEvent{}, fmt.Errorf("add scaling event: details are not valid JSON")
	}
	err := s.db.QueryRowContext(ctx, s.q(`INSERT INTO scaling_events (group_name, role, action, node, reason, details, at)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		e.Group, string(e.Role), string(e.Action), e.NodeID, e.Reason, string(e.Details), ms(e.At)).Scan(&e.ID)
	if err != nil {
		return ScalingEvent{}, fmt.Errorf("add scaling event: %w", err)
	}
	return e, nil
}

// ScalingEvents returns the events matching f, newest first.
func (s *Store) ScalingEvents(ctx context.Context, f ScalingEventFilter) ([]ScalingEvent, error) {
	var where []string
	var args []any
	if f.Group != "" {
		where, args = append(where, "group_name = ?"), append(args, f.Group)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "at >= ?"), append(args, ms(f.Since))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 1000
	}
	query := "SELECT id, group_name, role, action, node, reason, details, at FROM scaling_events"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := s.db.QueryContext(ctx, s.q(query+" ORDER BY id DESC LIMIT ?"), append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list scaling events: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []ScalingEvent
	for rows.Next() {
		var e ScalingEvent
		var details string
		var at int64
		if err := rows.Scan(&e.ID, &e.Group, &e.Role, &e.Action, &e.NodeID, &e.Reason, &details, &at); err != nil {
			return nil, fmt.Errorf("list scaling events: %w", err)
		}
		e.Details, e.At = json.RawMessage(details), fromMS(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list scaling events: %w", err)
	}
	return out, nil
}
