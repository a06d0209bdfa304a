package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tandem-ci/tandem/examples/go-postgres/internal/api"
	"github.com/tandem-ci/tandem/examples/go-postgres/internal/migrations"
	"github.com/tandem-ci/tandem/examples/go-postgres/internal/pgtest"
	"github.com/tandem-ci/tandem/examples/go-postgres/internal/store"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// TestMigrateAndServe runs the migration the way the Job does, twice, then serves
// requests against the migrated schema.
func TestMigrateAndServe(t *testing.T) {
	pg := pgtest.Start(t)
	ctx := context.Background()
	dsn := pg.CreateDatabase(t, "notes")
	var out bytes.Buffer
	for i := 0; i < 2; i++ { // the second run must change nothing
		out.Reset()
		if err := run(ctx, []string{"migrate", "up"}, env(map[string]string{"DATABASE_URL": dsn}), &out); err != nil {
			t.Fatalf("migrate run %d: %v", i+1, err)
		}
		if got := strings.TrimSpace(out.String()); got != "schema at version 3" {
			t.Errorf("migrate run %d printed %q", i+1, got)
		}
	}
	db, _ := sql.Open("pgx", dsn)
	defer db.Close()
	var applied int
	db.QueryRow(`SELECT count(*) FROM goose_db_version WHERE version_id > 0`).Scan(&applied)
	if applied != 3 {
		t.Errorf("goose recorded %d migrations, want 3 (the second run must not reapply)", applied)
	}

	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	version := func(ctx context.Context) (int64, error) { return migrations.Version(ctx, db) }
	srv := httptest.NewServer(api.Handler(store.New(pool), version, migrations.Expected))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/notes", "application/json", strings.NewReader(`{"content":"ship it in tandem"}`))
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /notes = %v %v", resp.Status, err)
	}
	resp, err = http.Get(srv.URL + "/notes")
	if err != nil {
		t.Fatal(err)
	}
	var notes []store.Note
	json.NewDecoder(resp.Body).Decode(&notes)
	if len(notes) != 1 || notes[0].Content != "ship it in tandem" || notes[0].CreatedAt.IsZero() {
		t.Errorf("GET /notes = %+v", notes)
	}
	if resp, _ := http.Get(srv.URL + "/readyz"); resp.StatusCode != http.StatusOK {
		t.Errorf("readyz = %s", resp.Status)
	}
}

// TestSchemaMismatchIsVisible runs this build's service on the previous schema (the
// migration Job has not run): reads fail and readiness says why.
func TestSchemaMismatchIsVisible(t *testing.T) {
	pg := pgtest.Start(t)
	ctx := context.Background()
	dsn := pg.CreateDatabase(t, "old")
	db, _ := sql.Open("pgx", dsn)
	defer db.Close()
	old := fstest.MapFS{}
	for _, name := range []string{"00001_create_notes.sql", "00002_add_created_at.sql"} {
		b, _ := os.ReadFile(filepath.Join("..", "..", "internal", "migrations", name))
		old[name] = &fstest.MapFile{Data: b}
	}
	if v, err := migrations.Up(ctx, db, old); err != nil || v != 2 {
		t.Fatalf("previous schema: %d %v", v, err)
	}
	pool, _ := pgxpool.New(ctx, dsn)
	defer pool.Close()
	version := func(ctx context.Context) (int64, error) { return migrations.Version(ctx, db) }
	srv := httptest.NewServer(api.Handler(store.New(pool), version, migrations.Expected))
	defer srv.Close()
	resp, _ := http.Get(srv.URL + "/notes")
	body := new(bytes.Buffer)
	body.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(body.String(), `column "content" does not exist`) {
		t.Errorf("GET /notes on the old schema = %s %s", resp.Status, body)
	}
	resp, _ = http.Get(srv.URL + "/readyz")
	body.Reset()
	body.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body.String(), "schema version 2, this build needs 3") {
		t.Errorf("readyz on the old schema = %s %s", resp.Status, body)
	}
}

// TestBrokenMigrationRollsBack: a migration that fails half way exits non-zero and
// leaves the database exactly as it was (goose runs each file in a transaction).
func TestBrokenMigrationRollsBack(t *testing.T) {
	pg := pgtest.Start(t)
	ctx := context.Background()
	dsn := pg.CreateDatabase(t, "broken")
	dir := t.TempDir()
	entries, _ := os.ReadDir(filepath.Join("..", "..", "internal", "migrations"))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sql") {
			b, _ := os.ReadFile(filepath.Join("..", "..", "internal", "migrations", e.Name()))
			os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644)
		}
	}
	broken := "-- +goose Up\nALTER TABLE notes ADD COLUMN priority int;\nINSERT INTO notes (content) VALUES ('half done');\nSELECT * FROM no_such_table;\n"
	os.WriteFile(filepath.Join(dir, "00004_broken.sql"), []byte(broken), 0o644)

	err := run(ctx, []string{"migrate", "up"}, env(map[string]string{"DATABASE_URL": dsn, "MIGRATIONS_DIR": dir}), &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "no_such_table") {
		t.Fatalf("broken migration = %v, want an error naming no_such_table", err)
	}
	db, _ := sql.Open("pgx", dsn)
	defer db.Close()
	if v, _ := migrations.Version(ctx, db); v != 3 {
		t.Errorf("schema version after the failure = %d, want 3", v)
	}
	var cols, rows int
	db.QueryRow(`SELECT count(*) FROM information_schema.columns WHERE table_name = 'notes' AND column_name = 'priority'`).Scan(&cols)
	db.QueryRow(`SELECT count(*) FROM notes`).Scan(&rows)
	if cols != 0 || rows != 0 {
		t.Errorf("half of the broken migration survived: priority column %d, rows %d", cols, rows)
	}
}

func TestRunErrors(t *testing.T) {
	ctx := context.Background()
	if err := run(ctx, nil, env(nil), &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "DATABASE_URL is not set") {
		t.Errorf("no DATABASE_URL = %v", err)
	}
	e := env(map[string]string{"DATABASE_URL": "postgres://x@127.0.0.1:1/x"})
	if err := run(ctx, []string{"migrate", "down"}, e, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "only up") {
		t.Errorf("migrate down = %v", err)
	}
	if err := run(ctx, []string{"dance"}, e, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Errorf("unknown command = %v", err)
	}
	if err := run(ctx, []string{"migrate"}, e, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "connect") {
		t.Errorf("unreachable database = %v", err)
	}
}
