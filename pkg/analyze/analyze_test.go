package analyze_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/tandem-ci/tandem/pkg/analyze"
	"github.com/tandem-ci/tandem/pkg/preflight"
)

// live is the schema every case starts from, with rows: a populated table's shape.
const live = `-- +goose Up
CREATE TABLE authors (id bigserial PRIMARY KEY, name text);
CREATE TABLE notes (id bigserial PRIMARY KEY, body text, created_at timestamptz DEFAULT now(), author_id bigint);
CREATE TABLE tags (id bigserial PRIMARY KEY, name text);
INSERT INTO authors (name) VALUES ('ada');
INSERT INTO notes (body, author_id) VALUES ('first', 1), ('second', 1);

-- +goose Down
SELECT 1;
`

// server starts one PostgreSQL for the test; db gives each case a fresh database.
func server(t *testing.T) func(name string) string {
	t.Helper()
	if _, err := preflight.PostgresBinDir(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set: .ci/run must install postgresql: %v", err)
		}
		t.Skip(err)
	}
	pg, err := preflight.StartPostgres(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pg.Stop)
	admin, err := sql.Open("pgx", pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	return func(name string) string {
		if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
			t.Fatal(err)
		}
		return strings.Replace(pg.URL, "/postgres?", "/"+name+"?", 1)
	}
}

// folder writes a goose folder: the live file, then the new one.
func folder(t *testing.T, up string) string {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "00001_live.sql"), []byte(live), 0o644)
	os.WriteFile(filepath.Join(dir, "00002_next.sql"), []byte("-- +goose Up\n"+up+"\n\n-- +goose Down\nSELECT 1;\n"), 0o644)
	return dir
}

// TestHazards (issue 23): one folder per hazard on real PostgreSQL: each finding names
// file:line, the measured lock mode and rewrite are those PostgreSQL reports, and the
// safe variant of each hazard raises nothing.
func TestHazards(t *testing.T) {
	db := server(t)
	type lock struct {
		line    int
		mode    string
		rewrite bool
	}
	cases := []struct {
		name  string
		up    string
		codes []string // findings, in any order
		locks []lock   // measured, per statement line (of the new file)
	}{
		{"drop table", "DROP TABLE tags;", []string{"DS102", "LK104"}, []lock{{2, "ACCESS EXCLUSIVE", false}}},
		{"drop column", "ALTER TABLE notes DROP COLUMN body;", []string{"DS103", "LK104"}, []lock{{2, "ACCESS EXCLUSIVE", false}}},
		{"rename table", "ALTER TABLE tags RENAME TO labels;", []string{"BC101", "LK104"}, nil},
		{"rename column", "ALTER TABLE notes RENAME COLUMN body TO content;", []string{"BC102", "LK104"}, nil},
		{"unique index", "CREATE UNIQUE INDEX notes_body ON notes (body);", []string{"MF101", "LK101"}, []lock{{2, "SHARE", false}}},
		{"set not null", "ALTER TABLE notes ALTER COLUMN body SET NOT NULL;", []string{"MF104", "LK103", "LK104"}, []lock{{2, "ACCESS EXCLUSIVE", false}}},
		{"type change rewrites", "ALTER TABLE notes ALTER COLUMN author_id TYPE text;", []string{"RW101", "LK104"}, []lock{{2, "ACCESS EXCLUSIVE", true}}},
		{"index not concurrent", "CREATE INDEX notes_created ON notes (created_at);", []string{"LK101"}, []lock{{2, "SHARE", false}}},
		{"foreign key validated at once", "ALTER TABLE notes ADD CONSTRAINT notes_author FOREIGN KEY (author_id) REFERENCES authors (id);", []string{"LK102"}, []lock{{2, "SHARE ROW EXCLUSIVE", false}}},
		// The safe variants.
		{"safe: concurrent index", "-- +goose NO TRANSACTION\nCREATE INDEX CONCURRENTLY notes_created ON notes (created_at);", nil, nil},
		{"safe: NOT VALID then VALIDATE", "SET lock_timeout = '5s';\nALTER TABLE notes ADD CONSTRAINT notes_author FOREIGN KEY (author_id) REFERENCES authors (id) NOT VALID;\nALTER TABLE notes VALIDATE CONSTRAINT notes_author;", nil, nil},
		{"safe: nullable column then backfill", "SET lock_timeout = '5s';\nALTER TABLE notes ADD COLUMN pinned boolean;\nUPDATE notes SET pinned = false WHERE pinned IS NULL;", nil, []lock{{3, "ACCESS EXCLUSIVE", false}}},
		{"safe: NOT NULL through a validated check", "SET lock_timeout = '5s';\nALTER TABLE notes ADD CONSTRAINT body_nn CHECK (body IS NOT NULL) NOT VALID;\nALTER TABLE notes VALIDATE CONSTRAINT body_nn;\nALTER TABLE notes ALTER COLUMN body SET NOT NULL;", nil, nil},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := folder(t, c.up)
			rep, err := analyze.Analyze(context.Background(), analyze.Config{Dir: dir, Display: "migrations", DatabaseURL: db(fmt.Sprintf("hazard%d", i)), Replay: true})
			if err != nil {
				t.Fatal(err)
			}
			var codes []string
			for _, f := range rep.Findings {
				codes = append(codes, f.Code)
				if f.File != "migrations/00002_next.sql" || f.Line < 2 || f.Production == "" || f.Fix == "" {
					t.Errorf("finding %+v: want file:line of the new file, what it means and the fix", f)
				}
			}
			slices.Sort(codes)
			want := slices.Clone(c.codes)
			slices.Sort(want)
			if strings.Join(codes, " ") != strings.Join(want, " ") {
				t.Errorf("findings %v, want %v\n%s", codes, want, report(rep))
			}
			if len(rep.Live) != 1 || len(rep.Files) != 1 {
				t.Fatalf("live %v, analysed %d files", rep.Live, len(rep.Files))
			}
			for _, l := range c.locks {
				st := statementAt(rep.Files[0], l.line)
				if st == nil {
					t.Fatalf("no statement at line %d: %+v", l.line, rep.Files[0].Statements)
				}
				if !slices.ContainsFunc(st.Locks, func(x analyze.Lock) bool { return x.Mode == l.mode }) || (len(st.Rewritten) > 0) != l.rewrite {
					t.Errorf("line %d measured %s, want %s (rewrite %v)", l.line, st.Measured(), l.mode, l.rewrite)
				}
			}
			t.Logf("%s: %s in %s", c.name, rep.Summary(), rep.Files[0].Duration.Round(1e6))
		})
	}
}

func statementAt(f analyze.File, line int) *analyze.Statement {
	for i := range f.Statements {
		if f.Statements[i].Line == line {
			return &f.Statements[i]
		}
	}
	return nil
}

func report(rep analyze.Report) string {
	var b strings.Builder
	for _, f := range rep.Files {
		for _, s := range f.Statements {
			fmt.Fprintf(&b, "  L%d %s: %s\n", s.Line, s.Text, s.Measured())
		}
	}
	for _, f := range rep.Findings {
		fmt.Fprintln(&b, f)
	}
	return b.String()
}

// TestAllowAndBadInput: an allow comment with a reason accepts a finding (reported, not
// failing); a failing statement names file, line and PostgreSQL's message; folders that
// hold no SQL tandem reads, and Go migrations, are said, never passed silently.
func TestAllowAndBadInput(t *testing.T) {
	db := server(t)
	ctx := context.Background()
	dir := folder(t, "-- tandem:allow DS103 \"column unused since v1.40\"\nALTER TABLE notes DROP COLUMN body;")
	rep, err := analyze.Analyze(ctx, analyze.Config{Dir: dir, DatabaseURL: db("allow"), Replay: true})
	if err != nil {
		t.Fatal(err)
	}
	var ds *analyze.Finding
	for i := range rep.Findings {
		if rep.Findings[i].Code == "DS103" {
			ds = &rep.Findings[i]
		}
	}
	if ds == nil || !ds.Allowed || ds.Reason != "column unused since v1.40" || rep.Errors() != 0 || !strings.Contains(ds.String(), "allowed: column unused") {
		t.Errorf("allowed DS103 = %+v, errors %d", ds, rep.Errors())
	}

	dir = folder(t, "SET lock_timeout = '5s';\nALTER TABLE nope ADD COLUMN x int;\nALTER TABLE notes DROP COLUMN body;")
	rep, err = analyze.Analyze(ctx, analyze.Config{Dir: dir, DatabaseURL: db("fails"), Replay: true})
	if err != nil || len(rep.Findings) != 1 || rep.Findings[0].Code != "SQL001" || rep.Findings[0].Line != 3 ||
		!strings.Contains(rep.Findings[0].Message, `relation "nope" does not exist`) {
		t.Errorf("failing statement: %v\n%s", err, report(rep))
	}

	py := t.TempDir()
	os.WriteFile(filepath.Join(py, "2f1c_add_notes.py"), []byte("def upgrade(): pass\n"), 0o644)
	if _, err := analyze.Analyze(ctx, analyze.Config{Dir: py, DatabaseURL: db("python"), Replay: true}); !errors.Is(err, analyze.ErrUnknownFormat) || !strings.Contains(err.Error(), "Python") {
		t.Errorf("alembic folder: %v", err)
	}
	gomig := folder(t, "SET lock_timeout = '5s';\nALTER TABLE notes ADD COLUMN pinned boolean;")
	os.WriteFile(filepath.Join(gomig, "00003_backfill.go"), []byte("package migrations\nfunc init() { goose.AddMigration(up, down) }\n"), 0o644)
	rep, err = analyze.Analyze(ctx, analyze.Config{Dir: gomig, DatabaseURL: db("gomig"), Replay: true})
	if err != nil || len(rep.Skipped) != 1 || !strings.Contains(rep.Skipped[0].Reason, "Go migration") || !strings.Contains(rep.Summary(), "1 files not analysed") {
		t.Errorf("Go migration: %v %+v", err, rep.Skipped)
	}
	if _, err := analyze.Analyze(ctx, analyze.Config{Dir: t.TempDir(), DatabaseURL: db("empty"), Replay: true}); !errors.Is(err, analyze.ErrUnknownFormat) {
		t.Errorf("empty folder: %v", err)
	}
}
