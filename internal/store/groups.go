package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// GroupState is the life stage of a node group.
type GroupState string

// Group states.
const (
	// GroupNew is a group with no node in service yet.
	GroupNew GroupState = "new"
	// GroupActive is a group that has had a node in service.
	GroupActive GroupState = "active"
	// GroupDeleting is a group whose nodes are being terminated before the
	// group is removed. Its nodes get no new clients.
	GroupDeleting GroupState = "deleting"
)

// Role is what a node does in the cluster.
type Role string

// Roles.
const (
	RoleOrigin     Role = "origin"
	RoleEdge       Role = "edge"
	RoleRelay      Role = "relay"
	RoleTranscoder Role = "transcoder"
	RoleAllInOne   Role = "allinone"
)

// Roles lists every role, in the order they are shown.
var Roles = []Role{RoleOrigin, RoleEdge, RoleRelay, RoleTranscoder, RoleAllInOne}

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	for _, k := range Roles {
		if r == k {
			return true
		}
	}
	return false
}

// Publishes reports whether nodes of the role take publishers.
func (r Role) Publishes() bool { return r == RoleOrigin || r == RoleAllInOne }

// NodeGroup is a set of nodes sharing a launch configuration and a scale
// policy.
type NodeGroup struct {
	ID           int64      `json:"id"`
	Name         string     `json:"name"`
	Regions      []string   `json:"regions"`
	LaunchConfig string     `json:"launch_config"`
	ScalePolicy  string     `json:"scale_policy"`
	State        GroupState `json:"state"`
	CreatedAt    time.Time  `json:"created_at"`
}

const groupColumns = "id, name, regions, launch_config, scale_policy, state, created_at"

func scanGroup(row interface{ Scan(...any) error }) (NodeGroup, error) {
	var g NodeGroup
	var regions string
	var created int64
	if err := row.Scan(&g.ID, &g.Name, &regions, &g.LaunchConfig, &g.ScalePolicy, &g.State, &created); err != nil {
		return NodeGroup{}, err
	}
	if err := json.Unmarshal([]byte(regions), &g.Regions); err != nil {
		return NodeGroup{}, fmt.Errorf("group %s: decode regions: %w", g.Name, err)
	}
	g.CreatedAt = fromMS(created)
	return g, nil
}

// CreateGroup stores a new group. A zero State becomes GroupNew and a zero
// CreatedAt the current time. It returns ErrConflict if the name is taken.
func (s *Store) CreateGroup(ctx context.Context, g NodeGroup) (NodeGroup, error) {
	if g.Name == "" {
		return NodeGroup{}, fmt.Errorf("create group: empty name")
	}
	if g.State == "" {
		g.State = GroupNew
	}
	if g.CreatedAt.IsZero() {
		g.CreatedAt = now()
	}
	if g.Regions == nil {
		g.Regions = []string{}
	}
	regions, err := json.Marshal(g.Regions)
	if err != nil {
		return NodeGroup{}, fmt.Errorf("create group %s: %w", g.Name, err)
	}
	err = s.db.QueryRowContext(ctx, s.q(`INSERT INTO node_groups (name, regions, launch_config, scale_policy, state, created_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`),
		g.Name, string(regions), g.LaunchConfig, g.ScalePolicy, string(g.State), ms(g.CreatedAt)).Scan(&g.ID)
	if err != nil {
		return NodeGroup{}, fmt.Errorf("create group %s: %w", g.Name, classify(err))
	}
	s.nodesChanged()
	return g, nil
}

// Group returns the group with the given name.
func (s *Store) Group(ctx context.Context, name string) (NodeGroup, error) {
	g, err := scanGroup(s.db.QueryRowContext(ctx, s.q("SELECT "+groupColumns+" FROM node_groups WHERE name = ?"), name))
	if err != nil {
		return NodeGroup{}, fmt.Errorf("group %s: %w", name, classify(err))
	}
	return g, nil
}

// Groups returns every group, oldest first.
func (s *Store) Groups(ctx context.Context) ([]NodeGroup, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+groupColumns+" FROM node_groups ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []NodeGroup
	for rows.Next() {
		g, err := scanGroup(rows)
		if err != nil {
			return nil, fmt.Errorf("list groups: %w", err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	return out, nil
}

// SetGroupState changes the state of a group.
func (s *Store) SetGroupState(ctx context.Context, name string, state GroupState) error {
	res, err := s.db.ExecContext(ctx, s.q("UPDATE node_groups SET state = ? WHERE name = ?"), string(state), name)
	if err != nil {
		return fmt.Errorf("set group %s state: %w", name, err)
	}
	if err := mustAffect(res); err != nil {
		return fmt.Errorf("set group %s state: %w", name, err)
	}
	s.nodesChanged()
	return nil
}

// DeleteGroup removes a group, its nodes (recording their removal), their
// reports and streams, and returns the group as it was.
func (s *Store) DeleteGroup(ctx context.Context, name string) (NodeGroup, error) {
	var g NodeGroup
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		g, err = scanGroup(tx.QueryRowContext(ctx, s.q("SELECT "+groupColumns+" FROM node_groups WHERE name = ?"), name))
		if err != nil {
			return classify(err)
		}
		gone, err := s.groupNodeStates(ctx, tx, name)
		if err != nil {
			return err
		}
		t := now()
		for _, n := range gone {
			if err := s.addNodeEvent(ctx, tx, n[0], n[1], nodeRemoved, "group "+name+" deleted", t); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, s.q("DELETE FROM node_groups WHERE name = ?"), name)
		return err
	})
	if err != nil {
		return NodeGroup{}, fmt.Errorf("delete group %s: %w", name, err)
	}
	s.nodesChanged()
	return g, nil
}

// mustAffect returns ErrNotFound when an UPDATE or DELETE matched no row.
func mustAffect(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// groupNodeStates returns {identifier, state} of every node of a group.
func (s *Store) groupNodeStates(ctx context.Context, q querier, group string) ([][2]string, error) {
	rows, err := q.QueryContext(ctx, s.q("SELECT identifier, state FROM nodes WHERE group_name = ? ORDER BY id"), group)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	var out [][2]string
	for rows.Next() {
		var id, state string
		if err := rows.Scan(&id, &state); err != nil {
			return nil, err
		}
		out = append(out, [2]string{id, state})
	}
	return out, rows.Err()
}
