package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Report is the latest load report of a node.
type Report struct {
	NodeID       int64     `json:"node_id"`
	Connections  int       `json:"connections"`
	Publishers   int       `json:"publishers"`
	Subscribers  int       `json:"subscribers"`
	BytesInPerS  int64     `json:"bytes_in_per_s"`
	BytesOutPerS int64     `json:"bytes_out_per_s"`
	CPU          float64   `json:"cpu"`
	MemoryBytes  int64     `json:"memory_bytes"`
	StreamCount  int       `json:"stream_count"`
	At           time.Time `json:"at"`
	// Streams is read by SaveReport only; stored streams are read with
	// Streams.
	Streams []StreamReport `json:"-"`
}

// StreamReport is one stream in a report.
type StreamReport struct {
	Scope       string
	Name        string
	Publishing  bool
	Subscribers int
}

// StreamRole tells whether a node publishes a stream or relays it.
type StreamRole string

// Stream roles.
const (
	StreamOrigin StreamRole = "origin"
	StreamEdge   StreamRole = "edge"
)

// Stream is a stream carried by a node, as of the node's latest report.
type Stream struct {
	NodeID int64 `json:"node_id"`
	// Node is the identifier of the node.
	Node        string     `json:"node"`
	Group       string     `json:"group"`
	Scope       string     `json:"scope"`
	Name        string     `json:"name"`
	Role        StreamRole `json:"role"`
	Subscribers int        `json:"subscribers"`
	StartedAt   time.Time  `json:"started_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

// StreamFilter selects streams; zero fields match everything.
type StreamFilter struct {
	Group  string
	NodeID int64
	Scope  string
	Name   string
	Role   StreamRole
	// InService keeps only streams on INSERVICE nodes.
	InService bool
}

// SaveReport replaces the latest report of a node and its streams, and
// refreshes the node's last report and last ping times. A zero r.At is the
// current time. A stream keeps its start time across reports; streams
// missing from the report are removed.
func (s *Store) SaveReport(ctx context.Context, nodeID int64, r Report) error {
	if r.At.IsZero() {
		r.At = now()
	}
	at := ms(r.At)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q("UPDATE nodes SET last_report = ?, last_ping = ? WHERE id = ?"), at, at, nodeID)
		if err != nil {
			return err
		}
		if err := mustAffect(res); err != nil {
			return err
		}
		var gen int64
		err = tx.QueryRowContext(ctx, s.q("SELECT gen FROM node_reports WHERE node_id = ?"), nodeID).Scan(&gen)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		gen++
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO node_reports (node_id, gen, connections, publishers, subscribers,
			bytes_in_per_s, bytes_out_per_s, cpu, memory_bytes, stream_count, at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (node_id) DO UPDATE SET gen = excluded.gen, connections = excluded.connections,
			publishers = excluded.publishers, subscribers = excluded.subscribers,
			bytes_in_per_s = excluded.bytes_in_per_s, bytes_out_per_s = excluded.bytes_out_per_s,
			cpu = excluded.cpu, memory_bytes = excluded.memory_bytes, stream_count = excluded.stream_count,
			at = excluded.at`),
			nodeID, gen, r.Connections, r.Publishers, r.Subscribers, r.BytesInPerS, r.BytesOutPerS,
			r.CPU, r.MemoryBytes, len(r.Streams), at)
		if err != nil {
			return err
		}
		if len(r.Streams) > 0 {
			stmt, err := tx.PrepareContext(ctx, s.q(`INSERT INTO streams (node_id, scope, name, role, subscribers, gen,
				started_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (node_id, scope, name) DO UPDATE SET role = excluded.role,
				subscribers = excluded.subscribers, gen = excluded.gen, updated_at = excluded.updated_at`))
			if err != nil {
				return err
			}
			defer func() { _ = stmt.Close() }()
			for _, st := range r.Streams {
				role := StreamEdge
				if st.Publishing {
					role = StreamOrigin
				}
				if _, err := stmt.ExecContext(ctx, nodeID, st.Scope, st.Name, string(role), st.Subscribers, gen, at, at); err != nil {
					return fmt.Errorf("stream %s/%s: %w", st.Scope, st.Name, err)
				}
			}
		}
		_, err = tx.ExecContext(ctx, s.q("DELETE FROM streams WHERE node_id = ? AND gen <> ?"), nodeID, gen)
		return err
	})
	if err != nil {
		return fmt.Errorf("save report of node %d: %w", nodeID, err)
	}
	return nil
}

const reportColumns = `r.node_id, r.connections, r.publishers, r.subscribers, r.bytes_in_per_s, r.bytes_out_per_s,
	r.cpu, r.memory_bytes, r.stream_count, r.at`

func scanReport(row interface{ Scan(...any) error }) (Report, error) {
	var r Report
	var at int64
	err := row.Scan(&r.NodeID, &r.Connections, &r.Publishers, &r.Subscribers, &r.BytesInPerS, &r.BytesOutPerS,
		&r.CPU, &r.MemoryBytes, &r.StreamCount, &at)
	r.At = fromMS(at)
	return r, err
}

// LastReport returns the latest report of a node; ErrNotFound if it has
// not reported.
func (s *Store) LastReport(ctx context.Context, nodeID int64) (Report, error) {
	r, err := scanReport(s.db.QueryRowContext(ctx, s.q("SELECT "+reportColumns+" FROM node_reports r WHERE r.node_id = ?"), nodeID))
	if err != nil {
		return Report{}, fmt.Errorf("last report of node %d: %w", nodeID, classify(err))
	}
	return r, nil
}

// Reports returns the latest report of every node of a group (every node
// when group is empty), ordered by node id. Nodes that never reported are
// absent.
func (s *Store) Reports(ctx context.Context, group string) ([]Report, error) {
	query := "SELECT " + reportColumns + " FROM node_reports r JOIN nodes n ON n.id = r.node_id"
	var args []any
	if group != "" {
		query += " WHERE n.group_name = ?"
		args = append(args, group)
	}
	rows, err := s.db.QueryContext(ctx, s.q(query+" ORDER BY r.node_id"), args...)
	if err != nil {
		return nil, fmt.Errorf("list reports: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []Report
	for rows.Next() {
		r, err := scanReport(rows)
		if err != nil {
			return nil, fmt.Errorf("list reports: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list reports: %w", err)
	}
	return out, nil
}

// Streams returns the streams matching f, ordered by scope, name and node.
func (s *Store) Streams(ctx context.Context, f StreamFilter) ([]Stream, error) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		where, args = append(where, cond), append(args, arg)
	}
	if f.Group != "" {
		add("n.group_name = ?", f.Group)
	}
	if f.NodeID != 0 {
		add("s.node_id = ?", f.NodeID)
	}
	if f.Scope != "" {
		add("s.scope = ?", f.Scope)
	}
	if f.Name != "" {
		add("s.name = ?", f.Name)
	}
	if f.Role != "" {
		add("s.role = ?", string(f.Role))
	}
	if f.InService {
		add("n.state = ?", string(NodeInService))
	}
	query := `SELECT s.node_id, n.identifier, n.group_name, s.scope, s.name, s.role, s.subscribers, s.started_at, s.updated_at
		FROM streams s JOIN nodes n ON n.id = s.node_id`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := s.db.QueryContext(ctx, s.q(query+" ORDER BY s.scope, s.name, s.node_id"), args...)
	if err != nil {
		return nil, fmt.Errorf("list streams: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []Stream
	for rows.Next() {
		var st Stream
		var started, updated int64
		if err := rows.Scan(&st.NodeID, &st.Node, &st.Group, &st.Scope, &st.Name, &st.Role, &st.Subscribers, &started, &updated); err != nil {
			return nil, fmt.Errorf("list streams: %w", err)
		}
		st.StartedAt, st.UpdatedAt = fromMS(started), fromMS(updated)
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list streams: %w", err)
	}
	return out, nil
}

// FindStream returns the INSERVICE node that publishes scope/name (the
// stream's origin), as of the latest reports. If two nodes claim it, the
// most recently reported one wins.
func (s *Store) FindStream(ctx context.Context, scope, name string) (Node, error) {
	n, err := scanNode(s.db.QueryRowContext(ctx, s.q(`SELECT `+prefixed("n.", nodeColumns)+`
		FROM streams s JOIN nodes n ON n.id = s.node_id
		WHERE s.scope = ? AND s.name = ? AND s.role = ? AND n.state = ?
		ORDER BY s.updated_at DESC, n.id LIMIT 1`), scope, name, string(StreamOrigin), string(NodeInService)))
	if err != nil {
		return Node{}, fmt.Errorf("origin of stream %s/%s: %w", scope, name, classify(err))
	}
	return n, nil
}

// prefixed qualifies a comma-separated column list with a table alias.
func prefixed(alias, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = alias + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}
