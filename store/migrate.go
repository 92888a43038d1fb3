package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations
var migrationFS embed.FS

// MigrationLockKey is the advisory lock every schema change takes, so that
// replicas starting together apply each migration once.
const MigrationLockKey = 0x616c657274 // "alert"

// migrate applies the dialect's migrations that the database lacks, in order,
// inside t.
func migrate(ctx context.Context, t Tx, dialect string) error {
	if err := t.AdvisoryLock(ctx, MigrationLockKey); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	q := t.(*tx).q
	if _, err := q.exec(ctx, `CREATE TABLE IF NOT EXISTS alertbridge_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var current int64
	if err := q.queryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM alertbridge_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("migrate: read version: %w", err)
	}
	dir := path.Join("migrations", dialect)
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		version, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil {
			return fmt.Errorf("migrate: migration %s has no version prefix", e.Name())
		}
		if version <= current {
			continue
		}
		sql, err := fs.ReadFile(migrationFS, path.Join(dir, e.Name()))
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if _, err := q.exec(ctx, string(sql)); err != nil {
			return fmt.Errorf("migrate: apply %s: %w", e.Name(), err)
		}
		if _, err := q.exec(ctx, `INSERT INTO alertbridge_migrations (version, applied_at) VALUES (?, ?)`, version, micros(time.Now())); err != nil {
			return fmt.Errorf("migrate: record %s: %w", e.Name(), err)
		}
	}
	return nil
}
