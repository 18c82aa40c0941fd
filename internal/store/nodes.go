package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// NodeState is where a node is in its life.
//
//	PENDING ──▶ RUNNING ──▶ INSERVICE ──▶ TERMINATING ──▶ (row removed)
//	   │           │          ▲    │            ▲
//	   │           │          │    ▼            │
//	   └───────────┴──────▶ FAULT ──────────────┘
//
// PENDING: asked of the cloud. RUNNING: the instance is up, the node has
// not registered. INSERVICE: registered and reporting; the only state that
// gets clients. FAULT: missed its deadlines (a FAULT node that reports
// again is back INSERVICE). PENDING may also jump straight to INSERVICE
// when a node registers before its provider reported it running.
// Draining (see Node.Draining) is orthogonal: a draining node is INSERVICE
// but gets no new clients.
type NodeState string

// Node states.
const (
	NodePending     NodeState = "PENDING"
	NodeRunning     NodeState = "RUNNING"
	NodeInService   NodeState = "INSERVICE"
	NodeTerminating NodeState = "TERMINATING"
	NodeFault       NodeState = "FAULT"
)

// nodeRemoved is the to-state recorded in node_events when a row is deleted.
const nodeRemoved = "REMOVED"

var nodeTransitions = map[NodeState][]NodeState{
	NodePending:     {NodeRunning, NodeInService, NodeTerminating, NodeFault},
	NodeRunning:     {NodeInService, NodeTerminating, NodeFault},
	NodeInService:   {NodeTerminating, NodeFault},
	NodeFault:       {NodeInService, NodeTerminating},
	NodeTerminating: nil,
}

// CanBecome reports whether a node may move from state s to state to.
func (s NodeState) CanBecome(to NodeState) bool {
	for _, t := range nodeTransitions[s] {
		if t == to {
			return true
		}
	}
	return false
}

// Valid reports whether s is a known state.
func (s NodeState) Valid() bool {
	_, ok := nodeTransitions[s]
	return ok
}

// Node is one media node (a cloud instance running shoal-node).
type Node struct {
	ID int64 `json:"id"`
	// Identifier is the instance name, node-<zone>-<epoch ms>.
	Identifier string `json:"identifier"`
	Group      string `json:"group"`
	Role       Role   `json:"role"`
	Region     string `json:"region"`
	Zone       string `json:"zone"`
	// Address is the host clients connect to (no port).
	Address  string    `json:"address"`
	RTMPPort int       `json:"rtmp_port"`
	HTTPPort int       `json:"http_port"`
	State    NodeState `json:"state"`
	// Draining nodes get no new clients; they are terminated once empty.
	Draining     bool   `json:"draining"`
	LaunchConfig string `json:"launch_config"`
	// Capacity is the connection capacity from the launch configuration.
	Capacity   int    `json:"capacity"`
	ProviderID string `json:"provider_id"`
	// Parents are the origins ("host:rtmp_port") an edge pulls from.
	Parents        []string  `json:"parents"`
	Version        string    `json:"version"`
	LastReport     time.Time `json:"last_report"`
	LastPing       time.Time `json:"last_ping"`
	CreatedAt      time.Time `json:"created_at"`
	StateChangedAt time.Time `json:"state_changed_at"`
}

// HostPort returns "address:rtmp_port".
func (n Node) HostPort() string {
	return net.JoinHostPort(n.Address, strconv.Itoa(n.RTMPPort))
}

// NodeIdentifier builds the identifier of a node launched at t in zone:
// node-<zone>-<epoch ms>.
func NodeIdentifier(zone string, t time.Time) string {
	return "node-" + zone + "-" + strconv.FormatInt(t.UnixMilli(), 10)
}

// NodeEvent records one node state change.
type NodeEvent struct {
	Node   string    `json:"node"`
	From   string    `json:"from"`
	To     string    `json:"to"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// NodeFilter selects nodes; zero fields match everything.
type NodeFilter struct {
	Group  string
	Role   Role
	States []NodeState
}

const nodeColumns = `id, identifier, group_name, role, region, zone, address, rtmp_port, http_port, state, draining,
	launch_config, capacity, provider_id, parents, version, last_report, last_ping, created_at, state_changed_at`

func scanNode(row interface{ Scan(...any) error }) (Node, error) {
	var n Node
	var parents string
	var lastReport, lastPing, created, changed int64
	err := row.Scan(&n.ID, &n.Identifier, &n.Group, &n.Role, &n.Region, &n.Zone, &n.Address, &n.RTMPPort, &n.HTTPPort,
		&n.State, &n.Draining, &n.LaunchConfig, &n.Capacity, &n.ProviderID, &parents, &n.Version,
		&lastReport, &lastPing, &created, &changed)
	if err != nil {
		return Node{}, err
	}
	if err := json.Unmarshal([]byte(parents), &n.Parents); err != nil {
		return Node{}, fmt.Errorf("node %s: decode parents: %w", n.Identifier, err)
	}
	n.LastReport, n.LastPing = fromMS(lastReport), fromMS(lastPing)
	n.CreatedAt, n.StateChangedAt = fromMS(created), fromMS(changed)
	return n, nil
}

func encodeList(l []string) string {
	if l == nil {
		l = []string{}
	}
	b, _ := json.Marshal(l) // a []string always encodes
	return string(b)
}

// CreateNode stores a new node and records its first state. An empty
// Identifier is generated from Zone and the current time; a zero State
// becomes PENDING. It returns ErrNotFound if the group does not exist and
// ErrConflict if the identifier is taken.
func (s *Store) CreateNode(ctx context.Context, n Node) (Node, error) {
	generated := n.Identifier == ""
	if n.State == "" {
		n.State = NodePending
	}
	if !n.State.Valid() {
		return Node{}, fmt.Errorf("create node: unknown state %q", n.State)
	}
	if !n.Role.Valid() {
		return Node{}, fmt.Errorf("create node: unknown role %q", n.Role)
	}
	if n.Parents == nil {
		n.Parents = []string{}
	}
	t := now()
	n.CreatedAt, n.StateChangedAt = t, t
	for attempt := 0; ; attempt++ {
		if generated {
			n.Identifier = NodeIdentifier(n.Zone, t.Add(time.Duration(attempt)*time.Millisecond))
		}
		err := s.tx(ctx, func(tx *sql.Tx) error {
			err := tx.QueryRowContext(ctx, s.q(`INSERT INTO nodes (identifier, group_name, role, region, zone, address,
				rtmp_port, http_port, state, draining, launch_config, capacity, provider_id, parents, version,
				last_report, last_ping, created_at, state_changed_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
				n.Identifier, n.Group, string(n.Role), n.Region, n.Zone, n.Address, n.RTMPPort, n.HTTPPort,
				string(n.State), n.Draining, n.LaunchConfig, n.Capacity, n.ProviderID, encodeList(n.Parents), n.Version,
				ms(n.LastReport), ms(n.LastPing), ms(n.CreatedAt), ms(n.StateChangedAt)).Scan(&n.ID)
			if err != nil {
				return classify(err)
			}
			return s.addNodeEvent(ctx, tx, n.Identifier, "", string(n.State), "created", t)
		})
		if generated && errors.Is(err, ErrConflict) && attempt < 100 {
			continue
		}
		if err != nil {
			return Node{}, fmt.Errorf("create node %s in group %s: %w", n.Identifier, n.Group, err)
		}
		break
	}
	s.nodesChanged()
	return n, nil
}

func (s *Store) addNodeEvent(ctx context.Context, q querier, node, from, to, reason string, at time.Time) error {
	_, err := q.ExecContext(ctx, s.q("INSERT INTO node_events (node, from_state, to_state, reason, at) VALUES (?, ?, ?, ?, ?)"),
		node, from, to, reason, ms(at))
	if err != nil {
		return fmt.Errorf("record node event: %w", err)
	}
	return nil
}

// Node returns the node with the given database id.
func (s *Store) Node(ctx context.Context, id int64) (Node, error) {
	return s.nodeWhere(ctx, s.db, "id = ?", id)
}

// NodeByIdentifier returns the node with the given identifier.
func (s *Store) NodeByIdentifier(ctx context.Context, identifier string) (Node, error) {
	return s.nodeWhere(ctx, s.db, "identifier = ?", identifier)
}

func (s *Store) nodeWhere(ctx context.Context, q querier, where string, arg any) (Node, error) {
	n, err := scanNode(q.QueryRowContext(ctx, s.q("SELECT "+nodeColumns+" FROM nodes WHERE "+where), arg))
	if err != nil {
		return Node{}, fmt.Errorf("node %v: %w", arg, classify(err))
	}
	return n, nil
}

// NodeByAddress returns the node reached at addr, which is "host" or
// "host:rtmp_port". A bare host shared by several nodes (several nodes on
// one machine) is ErrConflict: the caller must give the port.
func (s *Store) NodeByAddress(ctx context.Context, addr string) (Node, error) {
	where, args := "address = ?", []any{addr}
	if host, port, err := net.SplitHostPort(addr); err == nil {
		p, err := strconv.Atoi(port)
		if err != nil {
			return Node{}, fmt.Errorf("node at %s: bad port: %w", addr, ErrNotFound)
		}
		where, args = "address = ? AND rtmp_port = ?", []any{host, p}
	}
	nodes, err := s.queryNodes(ctx, "SELECT "+nodeColumns+" FROM nodes WHERE "+where+" ORDER BY id", args...)
	if err != nil {
		return Node{}, fmt.Errorf("node at %s: %w", addr, err)
	}
	switch len(nodes) {
	case 0:
		return Node{}, fmt.Errorf("node at %s: %w", addr, ErrNotFound)
	case 1:
		return nodes[0], nil
	default:
		return Node{}, fmt.Errorf("node at %s: address matches %d nodes, give host:port or the identifier: %w",
			addr, len(nodes), ErrConflict)
	}
}

// Nodes returns the nodes matching f, in creation order.
func (s *Store) Nodes(ctx context.Context, f NodeFilter) ([]Node, error) {
	var where []string
	var args []any
	if f.Group != "" {
		where, args = append(where, "group_name = ?"), append(args, f.Group)
	}
	if f.Role != "" {
		where, args = append(where, "role = ?"), append(args, string(f.Role))
	}
	if len(f.States) > 0 {
		ph := make([]string, len(f.States))
		for i, st := range f.States {
			ph[i] = "?"
			args = append(args, string(st))
		}
		where = append(where, "state IN ("+strings.Join(ph, ", ")+")")
	}
	query := "SELECT " + nodeColumns + " FROM nodes"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	nodes, err := s.queryNodes(ctx, query+" ORDER BY id", args...)
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	return nodes, nil
}

func (s *Store) queryNodes(ctx context.Context, query string, args ...any) ([]Node, error) {
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	var out []Node
	for rows.Next() {
		n, err := scanNode(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// SetNodeState moves a node to state to and records the change with its
// reason. Setting the current state is a no-op. A transition that
// NodeState.CanBecome forbids is ErrConflict. The first node of a group to
// become INSERVICE makes the group active.
func (s *Store) SetNodeState(ctx context.Context, id int64, to NodeState, reason string) (Node, error) {
	var n Node
	changed := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		n, err = s.nodeWhere(ctx, tx, "id = ?", id)
		if err != nil {
			return err
		}
		if n.State == to {
			return nil
		}
		if !n.State.CanBecome(to) {
			return fmt.Errorf("node %s is %s and cannot become %s: %w", n.Identifier, n.State, to, ErrConflict)
		}
		n, err = s.changeState(ctx, tx, n, to, reason)
		changed = true
		return err
	})
	if err != nil {
		return Node{}, fmt.Errorf("set node %d state: %w", id, err)
	}
	if changed {
		s.nodesChanged()
	}
	return n, nil
}

// changeState writes a permitted transition inside tx.
func (s *Store) changeState(ctx context.Context, tx *sql.Tx, n Node, to NodeState, reason string) (Node, error) {
	t := now()
	if _, err := tx.ExecContext(ctx, s.q("UPDATE nodes SET state = ?, state_changed_at = ? WHERE id = ?"),
		string(to), ms(t), n.ID); err != nil {
		return Node{}, err
	}
	if err := s.addNodeEvent(ctx, tx, n.Identifier, string(n.State), string(to), reason, t); err != nil {
		return Node{}, err
	}
	if to == NodeInService {
		if _, err := tx.ExecContext(ctx, s.q("UPDATE node_groups SET state = ? WHERE name = ? AND state = ?"),
			string(GroupActive), n.Group, string(GroupNew)); err != nil {
			return Node{}, err
		}
	}
	n.State, n.StateChangedAt = to, t
	return n, nil
}

// SetNodeDraining marks a node draining (no new clients) or not, and
// records the change as a node event.
func (s *Store) SetNodeDraining(ctx context.Context, id int64, draining bool, reason string) (Node, error) {
	var n Node
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		n, err = s.nodeWhere(ctx, tx, "id = ?", id)
		if err != nil || n.Draining == draining {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q("UPDATE nodes SET draining = ? WHERE id = ?"), draining, id); err != nil {
			return err
		}
		what := "draining: "
		if !draining {
			what = "drain cancelled: "
		}
		n.Draining = draining
		return s.addNodeEvent(ctx, tx, n.Identifier, string(n.State), string(n.State), what+reason, now())
	})
	if err != nil {
		return Node{}, fmt.Errorf("set node %d draining: %w", id, err)
	}
	s.nodesChanged()
	return n, nil
}

// Registration is what a node tells the manager when it starts.
type Registration struct {
	Address  string
	RTMPPort int
	HTTPPort int
	Version  string
	Parents  []string
}

// RegisterNode records a node's endpoint and version, refreshes its last
// ping and moves it to INSERVICE. A TERMINATING node is ErrConflict.
func (s *Store) RegisterNode(ctx context.Context, id int64, r Registration) (Node, error) {
	var n Node
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		n, err = s.nodeWhere(ctx, tx, "id = ?", id)
		if err != nil {
			return err
		}
		if n.State != NodeInService && !n.State.CanBecome(NodeInService) {
			return fmt.Errorf("node %s is %s and cannot register: %w", n.Identifier, n.State, ErrConflict)
		}
		t := now()
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE nodes SET address = ?, rtmp_port = ?, http_port = ?, version = ?,
			parents = ?, last_ping = ? WHERE id = ?`),
			r.Address, r.RTMPPort, r.HTTPPort, r.Version, encodeList(r.Parents), ms(t), id); err != nil {
			return err
		}
		n.Address, n.RTMPPort, n.HTTPPort, n.Version, n.LastPing = r.Address, r.RTMPPort, r.HTTPPort, r.Version, t
		n.Parents = append([]string{}, r.Parents...)
		if n.State != NodeInService {
			n, err = s.changeState(ctx, tx, n, NodeInService, "registered")
		}
		return err
	})
	if err != nil {
		return Node{}, fmt.Errorf("register node %d: %w", id, err)
	}
	s.nodesChanged()
	return n, nil
}

// Instance is what a provider learns about a node it launched.
type Instance struct {
	ProviderID string
	Address    string
	RTMPPort   int
	HTTPPort   int
}

// SetNodeInstance records the provider's instance id and endpoint of a
// node. Zero fields leave the stored values unchanged.
func (s *Store) SetNodeInstance(ctx context.Context, id int64, inst Instance) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE nodes SET
		provider_id = CASE WHEN ? <> '' THEN ? ELSE provider_id END,
		address = CASE WHEN ? <> '' THEN ? ELSE address END,
		rtmp_port = CASE WHEN ? <> 0 THEN ? ELSE rtmp_port END,
		http_port = CASE WHEN ? <> 0 THEN ? ELSE http_port END
		WHERE id = ?`),
		inst.ProviderID, inst.ProviderID, inst.Address, inst.Address,
		inst.RTMPPort, inst.RTMPPort, inst.HTTPPort, inst.HTTPPort, id)
	if err != nil {
		return fmt.Errorf("set node %d instance: %w", id, err)
	}
	if err := mustAffect(res); err != nil {
		return fmt.Errorf("set node %d instance: %w", id, err)
	}
	s.nodesChanged()
	return nil
}

// SetNodeParents replaces the origins an edge pulls from.
func (s *Store) SetNodeParents(ctx context.Context, id int64, parents []string) error {
	res, err := s.db.ExecContext(ctx, s.q("UPDATE nodes SET parents = ? WHERE id = ?"), encodeList(parents), id)
	if err != nil {
		return fmt.Errorf("set node %d parents: %w", id, err)
	}
	if err := mustAffect(res); err != nil {
		return fmt.Errorf("set node %d parents: %w", id, err)
	}
	s.nodesChanged()
	return nil
}

// DeleteNode removes a node (its instance is gone) with its report and
// streams, records the removal and returns the node as it was.
func (s *Store) DeleteNode(ctx context.Context, id int64, reason string) (Node, error) {
	var n Node
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		n, err = s.nodeWhere(ctx, tx, "id = ?", id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q("DELETE FROM nodes WHERE id = ?"), id); err != nil {
			return err
		}
		return s.addNodeEvent(ctx, tx, n.Identifier, string(n.State), nodeRemoved, reason, now())
	})
	if err != nil {
		return Node{}, fmt.Errorf("delete node %d: %w", id, err)
	}
	s.nodesChanged()
	return n, nil
}

// NodeEvents returns the state history of the node with the given
// identifier, oldest first. It outlives the node.
func (s *Store) NodeEvents(ctx context.Context, identifier string) ([]NodeEvent, error) {
	rows, err := s.db.QueryContext(ctx, s.q("SELECT node, from_state, to_state, reason, at FROM node_events WHERE node = ? ORDER BY id"), identifier)
	if err != nil {
		return nil, fmt.Errorf("node %s events: %w", identifier, err)
	}
	defer func() { _ = rows.Close() }()
	var out []NodeEvent
	for rows.Next() {
		var e NodeEvent
		var at int64
		if err := rows.Scan(&e.Node, &e.From, &e.To, &e.Reason, &at); err != nil {
			return nil, fmt.Errorf("node %s events: %w", identifier, err)
		}
		e.At = fromMS(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("node %s events: %w", identifier, err)
	}
	return out, nil
}
