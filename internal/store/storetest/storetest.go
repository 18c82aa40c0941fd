// Package storetest opens throwaway stores for tests: SQLite in the test's
// temporary directory, and PostgreSQL in a fresh schema when
// STORE_TEST_POSTGRES_DSN is set (make test sets it through
// scripts/with-postgres.sh).
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/shoal-live/shoal/internal/store"
)

// PostgresEnv names the environment variable holding the PostgreSQL DSN
// used by tests.
const PostgresEnv = "STORE_TEST_POSTGRES_DSN"

// Open returns a fresh SQLite store in t.TempDir(), closed when the test
// ends.
func Open(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "shoal.db"))
	if err != nil {
		t.Fatalf("open sqlite store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// OpenPostgres returns a store in a new PostgreSQL schema that is dropped
// when the test ends. It skips the test, loudly, when PostgresEnv is unset.
func OpenPostgres(t testing.TB) *store.Store {
	t.Helper()
	dsn := PostgresDSN(t)
	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("open postgres store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() }) // runs before the schema is dropped
	return st
}

// PostgresDSN creates a new, empty PostgreSQL schema that is dropped when
// the test ends, and returns a DSN whose search_path selects it. It skips
// the test, loudly, when PostgresEnv is unset.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(PostgresEnv)
	if dsn == "" {
		t.Skip(PostgresEnv + " not set: PostgreSQL half skipped; make test sets it (scripts/with-postgres.sh)")
	}
	ctx := context.Background()
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("open postgres %s: %v", PostgresEnv, err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	schema := "test_" + randomHex(t)
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Each runs fn as a subtest against a fresh SQLite store ("sqlite") and a
// fresh PostgreSQL store ("postgres"); the PostgreSQL half skips loudly
// when PostgresEnv is unset.
func Each(t *testing.T, fn func(t *testing.T, st *store.Store)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, Open(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, OpenPostgres(t)) })
}

func randomHex(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random schema name: %v", err)
	}
	return hex.EncodeToString(b)
}
