package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tandem-ci/tandem/pkg/analyze"
	"github.com/tandem-ci/tandem/pkg/preflight"
	"github.com/tandem-ci/tandem/pkg/release"
)

// preflightFlags are the pre-flight's inputs the manifests cannot give.
type preflightFlags struct {
	enabled                  bool
	databaseURL, databaseEnv string
	compatCheck              string
	passEnv                  []string
	timeout                  time.Duration
	migrations               migrationsFlags
}

// migrationsFlags name a migrations folder to analyse (pkg/analyze).
type migrationsFlags struct {
	dir, since, format string
}

func (m *migrationsFlags) bind(fs *pflag.FlagSet, dirUsage string) {
	fs.StringVar(&m.dir, "migrations", "", dirUsage)
	fs.StringVar(&m.since, "migrations-since", "", "version of the last live migration file: the files after it are analysed (default: the version the migration tool recorded; for lint, every file but the last is live)")
	fs.StringVar(&m.format, "migrations-format", "", "format of the migrations folder: goose, golang-migrate, dbmate, flyway, liquibase or sql (default: detected)")
}

// config is the analysis of the folder, or nil without one.
func (m *migrationsFlags) config() *analyze.Config {
	if m.dir == "" {
		return nil
	}
	return &analyze.Config{Dir: m.dir, Since: m.since, Format: m.format}
}

func (f *preflightFlags) bind(fs *pflag.FlagSet) {
	// No environment default here: a flag's default is printed by --help.
	fs.StringVar(&f.databaseURL, "database-url", "", "scratch PostgreSQL database to use instead of a throwaway one; it is changed ($TANDEM_PREFLIGHT_DATABASE_URL; never printed)")
	fs.StringVar(&f.databaseEnv, "database-env", preflight.DefaultDatabaseEnv, "variable the migration and the service read the database URL from")
	fs.StringVar(&f.compatCheck, "compat-check", "", "check of the current release's service on the migrated schema: an HTTP path (/notes) or URL that must answer below 400, or a shell command ($SERVICE_URL, $PORT)")
	fs.DurationVar(&f.timeout, "preflight-timeout", preflight.DefaultTimeout, "deadline of each program the pre-flight runs")
	f.migrations.bind(fs, "migrations folder in the checkout (SQL files): adds the analyze phase, which measures what each new statement does to the live schema (locks, rewrites, Atlas's checks; see tandem lint --migrations)")
	fs.StringSliceVar(&f.passEnv, "preflight-env", nil, "variables of tandem's environment the pre-flight's programs get (e.g. API_KEY); variables the manifests take from a Secret (env valueFrom) are passed when set, nothing else is")
}

// options are the pre-flight's inputs the manifests cannot give; text progress goes to
// w (nil: none). release.Build adds the registry access and the credentials to redact.
func (f *preflightFlags) options(w io.Writer) *preflight.Config {
	opts := &preflight.Config{DatabaseURL: firstOf(f.databaseURL, env("TANDEM_PREFLIGHT_DATABASE_URL")), DatabaseEnv: f.databaseEnv,
		CompatCheck: f.compatCheck, Timeout: f.timeout, PassEnv: f.passEnv, Migrations: f.migrations.config()}
	if w != nil {
		opts.Progress = func(ph preflight.Phase) { printPhase(w, ph) }
	}
	return opts
}

// printPhase prints one phase line, and the program's log when it failed.
func printPhase(w io.Writer, ph preflight.Phase) {
	fmt.Fprintf(w, "    %s\n", ph.Line())
	if ph.Status != preflight.StatusFailed {
		return
	}
	if _, rest, ok := strings.Cut(ph.Detail, "\n"); ok {
		for _, l := range strings.Split(rest, "\n") {
			fmt.Fprintf(w, "      %s\n", l)
		}
	}
	if log := strings.TrimSpace(ph.Log); log != "" {
		fmt.Fprintln(w, "      --- its output ---")
		for _, l := range strings.Split(log, "\n") {
			fmt.Fprintf(w, "      %s\n", l)
		}
	}
}

func newPreflightCmd() *cobra.Command {
	return newStepCmd("preflight", "Prove the migration on a throwaway PostgreSQL: replay the current release's migration, run the new one twice, start the current service on the result", release.StepPreflight, false,
		func(f *releaseFlags, fs *pflag.FlagSet) {
			f.bindRegistry(fs)
			fs.StringVar(&f.image, "image", "", "service image repository (default <registry>/<app>)")
			fs.StringVar(&f.migrationImage, "migration-image", "", "migration image repository (default <image>-migration)")
			fs.StringVar(&f.checkout, "checkout", ".", "checkout holding the manifests; its IMAGE_TAG is the current release")
			fs.StringVar(&f.path, "path", release.DefaultManifestsPath, "manifests folder inside the checkout")
			fs.StringVar(&f.file, "file", "", "file holding IMAGE_TAG inside the checkout (default <path>/deployment-variables.yaml)")
			f.pre.bind(fs)
			f.pre.enabled = true
		})
}
