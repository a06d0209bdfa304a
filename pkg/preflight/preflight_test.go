package preflight_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/tandem-ci/tandem/internal/testregistry"
	"github.com/tandem-ci/tandem/pkg/image"
	"github.com/tandem-ci/tandem/pkg/preflight"
)

// requirePostgres skips without PostgreSQL's server binaries, unless CI is set.
func requirePostgres(t testing.TB) {
	t.Helper()
	if _, err := preflight.PostgresBinDir(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set: .ci/run must install postgresql: %v", err)
		}
		t.Skip(err)
	}
}

// notes is examples/go-postgres, copied and changed by edit, built and pushed as
// REG/notes:TAG and REG/notes-migration:TAG.
type notes struct {
	reg *testregistry.Registry
}

// migrate is the example's Job command.
var migrate = []string{"/app/notes", "migrate", "up"}

func (n *notes) release(t testing.TB, tag string, edit func(dir string)) (service, migration string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "go-postgres")
	if err := os.CopyFS(dir, os.DirFS("../../examples/go-postgres")); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(dir)
	}
	b, err := image.BuildGo(context.Background(), dir, "./cmd/notes")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := image.Publish(context.Background(), b, n.reg.Host+"/notes", n.reg.Host+"/notes-migration", tag); err != nil {
		t.Fatal(err)
	}
	return n.reg.Host + "/notes:" + tag, n.reg.Host + "/notes-migration:" + tag
}

// addMigration writes migration 00004 with the given Up statement.
func addMigration(up string) func(string) {
	return func(dir string) {
		sql := "-- +goose Up\n" + up + "\n\n-- +goose Down\nSELECT 1;\n"
		if err := os.WriteFile(filepath.Join(dir, "internal", "migrations", "00004_next.sql"), []byte(sql), 0o644); err != nil {
			panic(err)
		}
	}
}

// extraStep makes `notes migrate up` run stmt after goose: a hand-written step outside
// the migration tool, as non-idempotent migrations usually are.
func extraStep(stmt string) func(string) {
	return func(dir string) {
		main := filepath.Join(dir, "cmd", "notes", "main.go")
		b, err := os.ReadFile(main)
		if err != nil {
			panic(err)
		}
		const anchor = "\t\tv, err := migrations.Up(ctx, db, fsys)\n\t\tif err != nil {\n\t\t\treturn err\n\t\t}\n"
		src := strings.Replace(string(b), anchor, anchor+"\t\tif _, err := db.ExecContext(ctx, `"+stmt+"`); err != nil {\n\t\t\treturn err\n\t\t}\n", 1)
		if src == string(b) {
			panic("main.go changed: the migrate case no longer matches the test's anchor")
		}
		if err := os.WriteFile(main, []byte(src), 0o644); err != nil {
			panic(err)
		}
	}
}

// TestPreflightOnPostgres runs the pre-flight of four next releases of examples/go-postgres
// against its current release, each on a throwaway PostgreSQL: (a) a compatible migration
// passes every phase; (b) a broken one fails the migrate phase; (c) non-idempotent ones
// are caught by the second run; (d) one dropping a column the current release reads is
// caught by the compatibility check.
func TestPreflightOnPostgres(t *testing.T) {
	requirePostgres(t)
	n := &notes{reg: testregistry.New(t, "", "")}
	prevService, prevMigration := n.release(t, "v1.0.0", nil)
	cases := []struct {
		name      string
		edit      func(string)
		want      error
		failed    string // the phase that fails
		inMessage string
	}{
		{"compatible: add a column with a default", addMigration("ALTER TABLE notes ADD COLUMN pinned boolean NOT NULL DEFAULT false;"), nil, "", ""},
		{"broken: a table that does not exist", addMigration("ALTER TABLE note ADD COLUMN pinned boolean;"), preflight.ErrMigrationFailed, preflight.PhaseMigrate, `relation "note" does not exist`},
		{"not idempotent: a second run fails", extraStep("ALTER TABLE notes ADD COLUMN pinned boolean"), preflight.ErrNotIdempotent, preflight.PhaseRerun, `column "pinned" of relation "notes" already exists`},
		{"not idempotent: a second run changes the schema", extraStep("DO $$ BEGIN EXECUTE format('CREATE TABLE notes_backup_%s AS TABLE notes', floor(extract(epoch from clock_timestamp()) * 1000000)::bigint); END $$"), preflight.ErrNotIdempotent, preflight.PhaseRerun, "changed the schema"},
		{"incompatible: drop a column the current release reads", addMigration("ALTER TABLE notes DROP COLUMN created_at;"), preflight.ErrIncompatible, preflight.PhaseCompat, `column "created_at" does not exist`},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tag := "v1." + string(rune('1'+i)) + ".0"
			_, mig := n.release(t, tag, c.edit)
			var progress []string
			res, err := preflight.Run(context.Background(), preflight.Config{
				Tag: tag, PreviousTag: "v1.0.0",
				Migration:         preflight.Container{Image: mig, Command: migrate},
				PreviousMigration: preflight.Container{Image: prevMigration, Command: migrate},
				PreviousService:   preflight.Container{Image: prevService},
				CompatCheck:       "/notes",
				Keychain:          authn.DefaultKeychain,
				Progress:          func(p preflight.Phase) { progress = append(progress, p.Name+" "+string(p.Status)) },
			})
			if c.want == nil {
				if err != nil {
					t.Fatalf("preflight: %v\n%+v", err, res)
				}
				want := "database passed,previous passed,migrate passed,rerun passed,compat passed"
				if got := strings.Join(progress, ","); got != want {
					t.Errorf("phases = %s, want %s", got, want)
				}
				if !strings.Contains(res.Phases[4].Detail, "GET /notes answered 200") {
					t.Errorf("compat detail = %q", res.Phases[4].Detail)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("preflight = %v, want %v\n%+v", err, c.want, res)
			}
			last := res.Phases[len(res.Phases)-1]
			if last.Name != c.failed || last.Status != preflight.StatusFailed {
				t.Errorf("last phase = %s %s, want %s failed", last.Name, last.Status, c.failed)
			}
			if !strings.Contains(err.Error()+last.Log, c.inMessage) {
				t.Errorf("error and log do not say %q:\n%v\n%s", c.inMessage, err, last.Log)
			}
		})
	}
	// A first release: the variables file names a tag never built. Nothing was live, so
	// there is nothing to replay and no old service to check.
	t.Run("first release", func(t *testing.T) {
		res, err := preflight.Run(context.Background(), preflight.Config{
			Tag: "v1.1.0", PreviousTag: "v0.1.0",
			Migration:         preflight.Container{Image: n.reg.Host + "/notes-migration:v1.1.0", Command: migrate},
			PreviousMigration: preflight.Container{Image: n.reg.Host + "/notes-migration:v0.1.0", Command: migrate},
			PreviousService:   preflight.Container{Image: n.reg.Host + "/notes:v0.1.0"},
			CompatCheck:       "/notes",
		})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range res.Phases {
			got = append(got, p.Name+" "+string(p.Status))
		}
		if want := "database passed,previous skipped,migrate passed,rerun passed,compat skipped"; strings.Join(got, ",") != want {
			t.Errorf("phases = %s, want %s", strings.Join(got, ","), want)
		}
		if !strings.Contains(res.Phases[1].Detail, "first release") {
			t.Errorf("previous detail = %q", res.Phases[1].Detail)
		}
	})
	// A scratch database given by URL (with a password, which trust auth ignores): used
	// as is, and its URL appears nowhere in the report.
	t.Run("given database", func(t *testing.T) {
		pg, err := preflight.StartPostgres(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer pg.Stop()
		url := strings.Replace(pg.URL, "postgres@", "postgres:secret-pw@", 1)
		res, err := preflight.Run(context.Background(), preflight.Config{
			Tag: "v1.1.0", PreviousTag: "v1.0.0", DatabaseURL: url,
			Migration:         preflight.Container{Image: n.reg.Host + "/notes-migration:v1.1.0", Command: migrate},
			PreviousMigration: preflight.Container{Image: prevMigration, Command: migrate},
			PreviousService:   preflight.Container{Image: prevService},
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.Phases[0].Detail != "given scratch database" || !strings.Contains(res.Phases[4].Detail, "started and listens") {
			t.Errorf("phases = %+v", res.Phases)
		}
		if b, _ := json.Marshal(res); strings.Contains(string(b), "secret-pw") {
			t.Errorf("the report shows the database password: %s", b)
		}
	})
	// Issue 19: what the programs get, what is shown, and deadlines.
	t.Run("hardening", func(t *testing.T) { preflightHardening(t, n, prevService, prevMigration) })
	// Cancelled after the database started (a SIGTERM in CI): Run returns, and the
	// throwaway server and its folder are gone.
	t.Run("cancelled", func(t *testing.T) {
		tmp := t.TempDir() // its own: other packages' tests start servers meanwhile
		// t.TempDir's folders are closed to others; the postgres user must traverse them.
		for d := tmp; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
			os.Chmod(d, 0o755)
		}
		t.Setenv("TMPDIR", tmp)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		_, err := preflight.Run(ctx, preflight.Config{
			Tag: "v1.1.0", Migration: preflight.Container{Image: n.reg.Host + "/notes-migration:v1.1.0", Command: migrate},
			Progress: func(p preflight.Phase) {
				if p.Name == preflight.PhaseDatabase {
					cancel()
				}
			},
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled pre-flight = %v, want context.Canceled", err)
		}
		if out, _ := exec.Command("pgrep", "-f", filepath.Join(tmp, "tandem-preflight-pg-")).Output(); len(out) > 0 {
			t.Errorf("a throwaway PostgreSQL still runs after the pre-flight returned: pids %s", out)
		}
		if left, _ := filepath.Glob(filepath.Join(tmp, "tandem-preflight-*")); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	})
}

// preflightHardening: the regressions of issue 19 on a real pre-flight.
func preflightHardening(t *testing.T, n *notes, prevService, prevMigration string) {
	ctx := context.Background()
	base := func() preflight.Config {
		// The current release again: its migration is idempotent and its service compatible.
		return preflight.Config{Tag: "v1.1.0", PreviousTag: "v1.0.0",
			Migration:         preflight.Container{Image: prevMigration, Command: migrate},
			PreviousMigration: preflight.Container{Image: prevMigration, Command: migrate},
			PreviousService:   preflight.Container{Image: prevService}}
	}
	// Item 5: a compat command that never ends is stopped at the program deadline.
	t.Run("compat command deadline", func(t *testing.T) {
		cfg := base()
		cfg.CompatCheck, cfg.Timeout = "sleep 600", 3*time.Second
		start := time.Now()
		_, err := preflight.Run(ctx, cfg)
		if !errors.Is(err, preflight.ErrIncompatible) || !strings.Contains(err.Error(), "still running after 3s") {
			t.Errorf("sleep 600 = %v", err)
		}
		if d := time.Since(start); d > 60*time.Second {
			t.Errorf("the pre-flight took %s with a 3s program deadline", d)
		}
	})
	// Item 6: credentials tandem knows never show, even when a program prints them.
	t.Run("redacted", func(t *testing.T) {
		pg, err := preflight.StartPostgres(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer pg.Stop()
		cfg := base()
		cfg.DatabaseURL = strings.Replace(pg.URL, "postgres@", "postgres:secret-pw@", 1)
		cfg.Redact = []string{"registry-pw-123"}
		cfg.CompatCheck = `echo "db $DATABASE_URL, registry registry-pw-123"; exit 3`
		res, err := preflight.Run(ctx, cfg)
		if !errors.Is(err, preflight.ErrIncompatible) {
			t.Fatalf("compat = %v", err)
		}
		b, _ := json.Marshal(res)
		for _, secret := range []string{"secret-pw", "registry-pw-123"} {
			if strings.Contains(string(b)+err.Error(), secret) {
				t.Errorf("%s shown: %s\n%v", secret, b, err)
			}
		}
		if log := res.Phases[len(res.Phases)-1].Log; !strings.Contains(log, "db ***,") || !strings.Contains(log, "registry ***") {
			t.Errorf("compat log = %q", log)
		}
	})
	// Item 14: the programs get the variables named in PassEnv and those the manifests
	// take from a Secret, from tandem's environment, and nothing else of it.
	t.Run("environment", func(t *testing.T) {
		b, err := image.BuildGo(ctx, "testdata/envprint", ".")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := image.Publish(ctx, b, n.reg.Host+"/envprint", n.reg.Host+"/envprint-migration", "v1.0.0"); err != nil {
			t.Fatal(err)
		}
		t.Setenv("API_KEY", "k-passed-123")
		t.Setenv("FROM_SECRET", "s-passed-456")
		t.Setenv("NOT_PASSED", "n-789")
		res, err := preflight.Run(ctx, preflight.Config{Tag: "v1.0.0", PassEnv: []string{"API_KEY", "UNSET_ONE"},
			Migration: preflight.Container{Image: n.reg.Host + "/envprint-migration:v1.0.0", Command: []string{"/app/envprint"}, Env: []string{"LITERAL=l"},
				Unresolved: []string{"env FROM_SECRET", "Secret shop-secrets"}}})
		if !errors.Is(err, preflight.ErrMigrationFailed) {
			t.Fatalf("envprint = %v", err)
		}
		log := res.Phases[len(res.Phases)-1].Log
		for _, want := range []string{"API_KEY=***", "FROM_SECRET=***", "LITERAL=l", "DATABASE_URL=postgres://"} {
			if !strings.Contains(log, want+"") {
				t.Errorf("the migration's environment lacks %s:\n%s", want, log)
			}
		}
		for _, not := range []string{"NOT_PASSED", "UNSET_ONE", "k-passed-123", "s-passed-456"} {
			if strings.Contains(log, not) {
				t.Errorf("the migration's environment shows %s:\n%s", not, log)
			}
		}
	})
	// Item 20: Ctrl-C while initdb runs says so, without initdb's half-written output.
	t.Run("interrupted initdb", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
		defer cancel()
		pg, err := preflight.StartPostgres(ctx)
		if err == nil {
			pg.Stop()
			t.Skip("initdb finished within 150ms")
		}
		if !strings.Contains(err.Error(), "interrupted") || strings.Count(err.Error(), "\n") > 1 {
			t.Errorf("interrupted initdb = %v", err)
		}
	})
	// Item 19: a malformed URL is bad input, not an incompatible release; an unreachable
	// database fails the database phase, not the migration.
	t.Run("blame", func(t *testing.T) {
		cfg := base()
		cfg.CompatCheck = "http://[::1"
		res, err := preflight.Run(ctx, cfg)
		if !errors.Is(err, preflight.ErrBadCheck) || errors.Is(err, preflight.ErrIncompatible) || len(res.Phases) != 0 {
			t.Errorf("malformed URL = %v, phases %+v", err, res.Phases)
		}
		cfg = base()
		cfg.DatabaseURL = "postgres://postgres:pw-unreachable@127.0.0.1:1/postgres?sslmode=disable"
		res, err = preflight.Run(ctx, cfg)
		if !errors.Is(err, preflight.ErrDatabase) || len(res.Phases) != 1 || res.Phases[0].Status != preflight.StatusFailed {
			t.Errorf("unreachable database = %v, phases %+v", err, res.Phases)
		}
		if err != nil && strings.Contains(err.Error(), "pw-unreachable") {
			t.Errorf("the error shows the password: %v", err)
		}
	})
}
