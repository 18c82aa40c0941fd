package store

import (
	"context"
	"fmt"
)

// DefaultAlarmThreshold is the scale-out threshold of every role until
// changed: a group scales out when its load passes 60 % of capacity.
const DefaultAlarmThreshold = 60

// Alarm is the scale-out alarm of a role: the load, in percent of the
// role's connection capacity, above which a group scales out.
type Alarm struct {
	ID        int64 `json:"id"`
	Role      Role  `json:"role"`
	Threshold int   `json:"threshold"`
}

// Alarm returns the scale-out alarm of role.
func (s *Store) Alarm(ctx context.Context, role Role) (Alarm, error) {
	var a Alarm
	err := s.db.QueryRowContext(ctx, s.q("SELECT id, role, threshold FROM alarms WHERE role = ?"), string(role)).
		Scan(&a.ID, &a.Role, &a.Threshold)
	if err != nil {
		return Alarm{}, fmt.Errorf("alarm for %s: %w", role, classify(err))
	}
	return a, nil
}

// SetAlarm changes the threshold of role's scale-out alarm (1..100).
func (s *Store) SetAlarm(ctx context.Context, role Role, threshold int) (Alarm, error) {
	if threshold < 1 || threshold > 100 {
		return Alarm{}, fmt.Errorf("set alarm for %s: threshold %d outside 1..100", role, threshold)
	}
	res, err := s.db.ExecContext(ctx, s.q("UPDATE alarms SET threshold = ? WHERE role = ?"), threshold, string(role))
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return Alarm{}, fmt.Errorf("set alarm for %s: %w", role, err)
	}
	return s.Alarm(ctx, role)
}
