package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
)

// postgresDSN is storetest.PostgresDSN, repeated here because storetest
// imports this package and internal tests cannot import it back.
func postgresDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("STORE_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("STORE_TEST_POSTGRES_DSN not set: PostgreSQL half skipped; make test sets it (scripts/with-postgres.sh)")
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	b := make([]byte, 6)
	_, _ = rand.Read(b) // never fails (crypto/rand since Go 1.24)
	schema := "test_" + hex.EncodeToString(b)
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
