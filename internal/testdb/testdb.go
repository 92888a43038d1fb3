// Package testdb gives tests a real, empty database: a SQLite file in a
// temporary directory, or a fresh database on the PostgreSQL server that
// scripts/test starts. Tests run against both; nothing here is a fake.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/alertbridge/alertbridge/store"
)

// PostgresEnv names the variable holding an admin URL of a PostgreSQL server
// tests may create databases on.
const PostgresEnv = "ALERTBRIDGE_TEST_POSTGRES_URL"

// Drivers are the databases every store and queue test runs on.
var Drivers = []string{"sqlite", "postgres"}

// URL returns a storage URL for an empty database of the given driver. On
// PostgreSQL without a server the test skips, or fails when CI=true.
func URL(tb testing.TB, driver string) string {
	tb.Helper()
	switch driver {
	case "sqlite":
		return "sqlite://" + filepath.Join(tb.TempDir(), "alertbridge.db")
	case "postgres":
		return postgresURL(tb)
	}
	tb.Fatalf("testdb: unknown driver %q", driver)
	return ""
}

// Open opens a migrated store on an empty database and closes it when the
// test ends.
func Open(tb testing.TB, driver string) store.Store {
	tb.Helper()
	s, err := store.Open(context.Background(), URL(tb, driver))
	if err != nil {
		tb.Fatalf("open %s store: %v", driver, err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// Each runs fn as a subtest on every driver.
func Each(t *testing.T, fn func(t *testing.T, driver string)) {
	for _, d := range Drivers {
		t.Run(d, func(t *testing.T) { fn(t, d) })
	}
}

func postgresURL(tb testing.TB) string {
	admin := os.Getenv(PostgresEnv)
	if admin == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s is not set: scripts/test starts a PostgreSQL server for the suite", PostgresEnv)
		}
		tb.Skipf("%s is not set (scripts/test sets it)", PostgresEnv)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		tb.Fatalf("connect to test postgres: %v", err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "t_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	tb.Cleanup(func() {
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return withDatabase(admin, name)
}

// withDatabase swaps the database name in a postgres:// URL.
func withDatabase(u, name string) string {
	query := ""
	if i := strings.IndexByte(u, '?'); i >= 0 {
		u, query = u[:i], u[i:]
	}
	scheme := strings.Index(u, "://") + 3
	if slash := strings.IndexByte(u[scheme:], '/'); slash >= 0 {
		u = u[:scheme+slash]
	}
	return u + "/" + name + query
}
