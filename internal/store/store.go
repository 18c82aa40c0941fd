// Package store keeps the stream manager's control-plane state in SQL:
// node groups, nodes and their state history, the latest load report of
// each node and the streams it carries, scale policies, launch
// configurations, alarms and scaling events.
//
// SQLite (pure Go, modernc.org/sqlite) is the default; PostgreSQL (pgx) is
// used when the DSN starts with postgres:// or postgresql://. Queries are
// written once with "?" placeholders and rebound for PostgreSQL. The schema
// lives in embedded migrations (migrations/NNNN_name.sql), applied in order,
// one transaction each, and recorded in the table schema_migrations.
//
// Times are stored as Unix milliseconds (BIGINT) so both databases agree.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"modernc.org/sqlite"               // registers the "sqlite" database/sql driver
)

// Sentinel errors. Every error the store returns for a missing or
// conflicting row wraps one of them.
var (
	// ErrNotFound means the named row does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the write contradicts existing state: a duplicate
	// name, a row still in use, or a state transition that is not allowed.
	ErrConflict = errors.New("conflict")
)

// DefaultSQLitePath is the database file used when Open gets an empty DSN.
const DefaultSQLitePath = "data/manager/shoal.db"

type dialect int

const (
	dialectSQLite dialect = iota + 1
	dialectPostgres
)

// Store is the control-plane database. It is safe for concurrent use.
type Store struct {
	db      *sql.DB
	dialect dialect

	// rebound caches queries rebound to $n placeholders (PostgreSQL only).
	rebound sync.Map // string → string

	// nodesVersion rises on every write this process makes to nodes or
	// groups (not on reports); readers that cache nodes compare it.
	nodesVersion atomic.Uint64
}

// Open opens the database named by dsn and applies pending migrations.
//
// dsn is one of:
//   - "" for SQLite at DefaultSQLitePath;
//   - "sqlite:PATH" or a plain file path for SQLite at PATH;
//   - "sqlite::memory:" for a private in-memory SQLite database (tests);
//   - "postgres://…" or "postgresql://…" for PostgreSQL (pgx syntax; a
//     search_path query parameter selects the schema).
func Open(ctx context.Context, dsn string) (*Store, error) {
	s := &Store{}
	var err error
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		s.dialect = dialectPostgres
		s.db, err = sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		s.db.SetMaxOpenConns(20)
		s.db.SetMaxIdleConns(5)
	default:
		s.dialect = dialectSQLite
		s.db, err = openSQLite(dsn)
		if err != nil {
			return nil, err
		}
	}
	if err := s.db.PingContext(ctx); err != nil {
		_ = s.db.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		_ = s.db.Close()
		return nil, err
	}
	return s, nil
}

func openSQLite(dsn string) (*sql.DB, error) {
	path := strings.TrimPrefix(dsn, "sqlite:")
	memory := path == ":memory:"
	if path == "" {
		path = DefaultSQLitePath
	}
	if !memory {
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("create database directory: %w", err)
			}
		}
	}
	// _txlock=immediate takes the write lock at BEGIN, so a transaction
	// that reads then writes never fails with SQLITE_BUSY half-way.
	pragmas := "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_txlock=immediate"
	if !memory {
		pragmas += "&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+pragmas)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if memory {
		// Each connection to :memory: is a different database.
		db.SetMaxOpenConns(1)
	}
	return db, nil
}

// Close closes the database.
func (s *Store) Close() error {
	return s.db.Close()
}

// Postgres reports whether the store runs on PostgreSQL.
func (s *Store) Postgres() bool { return s.dialect == dialectPostgres }

// NodesVersion is a counter that rises whenever this process changes a
// node or a group (state, draining, creation, deletion, registration). A
// cache of nodes can compare it to know it must reload. Writes made by
// other processes sharing a PostgreSQL database do not move it.
func (s *Store) NodesVersion() uint64 { return s.nodesVersion.Load() }

func (s *Store) nodesChanged() { s.nodesVersion.Add(1) }

// q returns query with "?" placeholders rebound for the store's database.
// Queries must not contain "?" inside string literals.
func (s *Store) q(query string) string {
	if s.dialect != dialectPostgres {
		return query
	}
	if v, ok := s.rebound.Load(query); ok {
		return v.(string)
	}
	r := rebind(query)
	s.rebound.Store(query, r)
	return r
}

// rebind replaces each "?" with $1, $2, … in order.
func rebind(query string) string {
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// tx runs fn in a transaction, committing when it returns nil.
func (s *Store) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback() // the error that made us roll back matters more
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", classify(err))
	}
	return nil
}

// classify wraps database constraint violations in the store's sentinels.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case 2067, 1555: // SQLITE_CONSTRAINT_UNIQUE, SQLITE_CONSTRAINT_PRIMARYKEY
			return fmt.Errorf("%w: %w", ErrConflict, err)
		case 787: // SQLITE_CONSTRAINT_FOREIGNKEY
			return fmt.Errorf("%w: %w", ErrNotFound, err)
		}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%w: %w", ErrConflict, err)
		case "23503": // foreign_key_violation
			return fmt.Errorf("%w: %w", ErrNotFound, err)
		}
	}
	return err
}

// ms converts a time to Unix milliseconds; the zero time is 0.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMS converts Unix milliseconds to a time; 0 is the zero time.
func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v)
}

// now is the current time truncated to what the database keeps.
func now() time.Time {
	return time.UnixMilli(time.Now().UnixMilli())
}
