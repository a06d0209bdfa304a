// Package migrations holds the schema migrations (goose SQL files, each applied in its
// own transaction) and runs them.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
)

//go:embed *.sql
var embedded embed.FS

// FS is the migrations shipped with this build.
var FS fs.FS = embedded

// Expected is the schema version this build of the service needs.
const Expected = 3

// Up applies every pending migration in fsys and returns the resulting version. Running
// it again applies nothing: a migration Job re-created by Flux after its TTL is harmless.
func Up(ctx context.Context, db *sql.DB, fsys fs.FS) (int64, error) {
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys)
	if err != nil {
		return 0, fmt.Errorf("loading migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return 0, fmt.Errorf("migrating: %w", err)
	}
	return p.GetDBVersion(ctx)
}

// Version returns the schema version of db (0 before the first migration).
func Version(ctx context.Context, db *sql.DB) (int64, error) {
	p, err := goose.NewProvider(goose.DialectPostgres, db, FS)
	if err != nil {
		return 0, err
	}
	return p.GetDBVersion(ctx)
}
