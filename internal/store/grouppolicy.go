package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
)

// GroupPolicyEdit is the outcome of EditGroupPolicy.
type GroupPolicyEdit struct {
	// Group is the group after the edit; its ScalePolicy names Policy.
	Group NodeGroup
	// Policy is the edited policy as stored.
	Policy ScalePolicy
	// Previous is the name of the policy the group used before.
	Previous string
	// SharedWith lists the other groups that used Previous, by name. When
	// it is not empty, Policy is a new policy of the group's own and
	// Previous is unchanged.
	SharedWith []string
}

// Copied reports whether the edit went to a new policy because the group
// shared its policy with other groups.
func (e GroupPolicyEdit) Copied() bool { return len(e.SharedWith) > 0 }

// EditGroupPolicy rewrites the scale policy of a group in one transaction.
// edit receives the group, its current policy (a fresh copy it may change)
// and the other groups that use that policy, by name, and returns the
// policy the group is to have; an error of edit is returned as it is, and
// nothing is written. If no other group uses the current policy, the
// result replaces it under the same name. Otherwise the other groups keep
// the current policy, unchanged, and the result is created as a new policy
// of the group's own, named copyName or, when that name is taken,
// copyName-2, copyName-3, ...; the group is switched to it.
//
// The group's row and then its policy's are locked (PostgreSQL; SQLite
// serialises write transactions), so concurrent edits of one group, or of
// groups sharing a policy, apply one after the other and none is lost.
// It returns ErrNotFound if the group or its policy does not exist.
func (s *Store) EditGroupPolicy(ctx context.Context, group, copyName string,
	edit func(g NodeGroup, p ScalePolicy, sharedWith []string) (ScalePolicy, error),
) (GroupPolicyEdit, error) {
	var out GroupPolicyEdit
	var editErr error
	err := s.tx(ctx, func(tx *sql.Tx) error {
		g, err := scanGroup(tx.QueryRowContext(ctx, s.q("SELECT "+groupColumns+" FROM node_groups WHERE name = ?"+s.forUpdate()), group))
		if err != nil {
			return fmt.Errorf("group %s: %w", group, classify(err))
		}
		var doc string
		err = tx.QueryRowContext(ctx, s.q("SELECT document FROM scale_policies WHERE name = ?"+s.forUpdate()), g.ScalePolicy).Scan(&doc)
		if err != nil {
			return fmt.Errorf("scale policy %s: %w", g.ScalePolicy, classify(err))
		}
		var p ScalePolicy
		if err := json.Unmarshal([]byte(doc), &p); err != nil {
			return fmt.Errorf("scale policy %s: decode: %w", g.ScalePolicy, err)
		}
		others, err := s.policyUsers(ctx, tx, g.ScalePolicy, g.Name)
		if err != nil {
			return err
		}
		np, err := edit(g, p, others)
		if err != nil {
			editErr = err
			return err
		}
		out = GroupPolicyEdit{Previous: g.ScalePolicy, SharedWith: others}
		if len(others) == 0 {
			np.Name = g.ScalePolicy
			b, err := json.Marshal(np)
			if err != nil {
				return fmt.Errorf("encode scale policy %s: %w", np.Name, err)
			}
			if _, err := tx.ExecContext(ctx, s.q("UPDATE scale_policies SET document = ?, updated_at = ? WHERE name = ?"),
				string(b), ms(now()), np.Name); err != nil {
				return fmt.Errorf("update scale policy %s: %w", np.Name, err)
			}
		} else {
			if np.Name, err = s.freePolicyName(ctx, tx, copyName); err != nil {
				return err
			}
			b, err := json.Marshal(np)
			if err != nil {
				return fmt.Errorf("encode scale policy %s: %w", np.Name, err)
			}
			if _, err := tx.ExecContext(ctx, s.q("INSERT INTO scale_policies (name, document, updated_at) VALUES (?, ?, ?)"),
				np.Name, string(b), ms(now())); err != nil {
				return fmt.Errorf("create scale policy %s: %w", np.Name, classify(err))
			}
			if _, err := tx.ExecContext(ctx, s.q("UPDATE node_groups SET scale_policy = ? WHERE name = ?"), np.Name, g.Name); err != nil {
				return fmt.Errorf("switch to scale policy %s: %w", np.Name, err)
			}
			g.ScalePolicy = np.Name
		}
		out.Group, out.Policy = g, np
		return nil
	})
	if editErr != nil {
		return GroupPolicyEdit{}, editErr
	}
	if err != nil {
		return GroupPolicyEdit{}, fmt.Errorf("edit scale policy of group %s: %w", group, err)
	}
	s.nodesChanged()
	return out, nil
}

// forUpdate returns the row-locking clause for a SELECT in a transaction:
// " FOR UPDATE" on PostgreSQL; nothing on SQLite, whose write
// transactions hold the database lock from BEGIN (_txlock=immediate).
func (s *Store) forUpdate() string {
	if s.dialect == dialectPostgres {
		return " FOR UPDATE"
	}
	return ""
}

// policyUsers returns the groups other than except that use the policy.
func (s *Store) policyUsers(ctx context.Context, q querier, policy, except string) ([]string, error) {
	rows, err := q.QueryContext(ctx, s.q("SELECT name FROM node_groups WHERE scale_policy = ? AND name <> ? ORDER BY name"), policy, except)
	if err != nil {
		return nil, fmt.Errorf("groups using scale policy %s: %w", policy, err)
	}
	defer func() { _ = rows.Close() }()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("groups using scale policy %s: %w", policy, err)
		}
		out = append(out, name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("groups using scale policy %s: %w", policy, err)
	}
	return out, nil
}

// freePolicyName returns base, or base-2, base-3, ... the first that no
// scale policy has.
func (s *Store) freePolicyName(ctx context.Context, q querier, base string) (string, error) {
	for i := 1; ; i++ {
		name := base
		if i > 1 {
			name += "-" + strconv.Itoa(i)
		}
		var n int
		if err := q.QueryRowContext(ctx, s.q("SELECT COUNT(*) FROM scale_policies WHERE name = ?"), name).Scan(&n); err != nil {
			return "", fmt.Errorf("look up scale policy %s: %w", name, err)
		}
		if n == 0 {
			return name, nil
		}
	}
}
