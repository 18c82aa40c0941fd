package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
)

// documents are rows of (name, JSON document): scale policies and launch
// configurations. groupColumn is the node_groups column that references
// the document by name, which keeps an in-use document from being deleted.
type documents struct {
	table       string
	what        string // for errors: "scale policy"
	groupColumn string
}

var (
	policyDocs = documents{table: "scale_policies", what: "scale policy", groupColumn: "scale_policy"}
	launchDocs = documents{table: "launch_configs", what: "launch configuration", groupColumn: "launch_config"}
)

func createDoc(ctx context.Context, s *Store, d documents, name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("create %s %s: %w", d.what, name, err)
	}
	_, err = s.db.ExecContext(ctx, s.q("INSERT INTO "+d.table+" (name, document, updated_at) VALUES (?, ?, ?)"),
		name, string(b), ms(now()))
	if err != nil {
		return fmt.Errorf("create %s %s: %w", d.what, name, classify(err))
	}
	return nil
}

func updateDoc(ctx context.Context, s *Store, d documents, name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("update %s %s: %w", d.what, name, err)
	}
	res, err := s.db.ExecContext(ctx, s.q("UPDATE "+d.table+" SET document = ?, updated_at = ? WHERE name = ?"),
		string(b), ms(now()), name)
	if err == nil {
		err = mustAffect(res)
	}
	if err != nil {
		return fmt.Errorf("update %s %s: %w", d.what, name, err)
	}
	return nil
}

// putDoc creates or replaces a document.
func putDoc(ctx context.Context, s *Store, d documents, name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("put %s %s: %w", d.what, name, err)
	}
	_, err = s.db.ExecContext(ctx, s.q("INSERT INTO "+d.table+` (name, document, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at`),
		name, string(b), ms(now()))
	if err != nil {
		return fmt.Errorf("put %s %s: %w", d.what, name, err)
	}
	return nil
}

func readDoc[T any](ctx context.Context, q querier, s *Store, d documents, name string) (T, error) {
	var v T
	var doc string
	if err := q.QueryRowContext(ctx, s.q("SELECT document FROM "+d.table+" WHERE name = ?"), name).Scan(&doc); err != nil {
		return v, fmt.Errorf("%s %s: %w", d.what, name, classify(err))
	}
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		return v, fmt.Errorf("%s %s: decode: %w", d.what, name, err)
	}
	return v, nil
}

func listDocs[T any](ctx context.Context, s *Store, d documents) ([]T, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT document FROM "+d.table+" ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", d.what, err)
	}
	defer func() { _ = rows.Close() }()
	var out []T
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("list %s: %w", d.what, err)
		}
		var v T
		if err := json.Unmarshal([]byte(doc), &v); err != nil {
			return nil, fmt.Errorf("list %s: decode: %w", d.what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list %s: %w", d.what, err)
	}
	return out, nil
}

// deleteDoc removes a document unless a group uses it (ErrConflict).
func deleteDoc[T any](ctx context.Context, s *Store, d documents, name string) (T, error) {
	var v T
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		v, err = readDoc[T](ctx, tx, s, d, name)
		if err != nil {
			return err
		}
		var users int
		if err := tx.QueryRowContext(ctx, s.q("SELECT COUNT(*) FROM node_groups WHERE "+d.groupColumn+" = ?"), name).Scan(&users); err != nil {
			return err
		}
		if users > 0 {
			return fmt.Errorf("%s %s is used by %d node group(s): %w", d.what, name, users, ErrConflict)
		}
		_, err = tx.ExecContext(ctx, s.q("DELETE FROM "+d.table+" WHERE name = ?"), name)
		return err
	})
	if err != nil {
		return v, fmt.Errorf("delete %s %s: %w", d.what, name, err)
	}
	return v, nil
}
