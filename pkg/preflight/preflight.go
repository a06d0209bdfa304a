package preflight

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	neturl "net/url"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/tandem-ci/tandem/internal/errmsg"
	"github.com/tandem-ci/tandem/pkg/analyze"
	"github.com/tandem-ci/tandem/pkg/progress"
)

// Sentinels for the findings callers branch on.
var (
	// ErrMigrationFailed: the new migration (or the previous one, replayed) exited non-zero.
	ErrMigrationFailed = errors.New("migration failed")
	// ErrNotIdempotent: running the new migration a second time failed or changed the schema.
	ErrNotIdempotent = errors.New("migration is not idempotent")
	// ErrIncompatible: the previous release's service fails its check on the migrated schema.
	ErrIncompatible = errors.New("previous release is incompatible with the migrated schema")
	// ErrTargetIncompatible (Rollback): the target's service fails its check on the live schema.
	ErrTargetIncompatible = errors.New("rollback target is incompatible with the live schema")
	// ErrSchemaChanged (Rollback): the target's migration, run on the live schema, changed it.
	ErrSchemaChanged = errors.New("the target's migration changes the live schema")
	// ErrUnsafeMigration: the analysis of the new migration files found errors.
	ErrUnsafeMigration = errors.New("the migration is unsafe on a live database")
)

// Phase names, in the order they run.
const (
	PhaseDatabase = "database"
	PhasePrevious = "previous"
	PhaseAnalyze  = "analyze"
	PhaseMigrate  = "migrate"
	PhaseRerun    = "rerun"
	PhaseCompat   = "compat"
	// PhaseLive replaces PhasePrevious in a Rollback proof.
	PhaseLive = "live"
)

// Status of a phase.
type Status string

// Phase outcomes.
const (
	StatusPassed  Status = "passed"
	StatusSkipped Status = "skipped"
	StatusFailed  Status = "failed"
)

// Phase is one line of the pre-flight's report.
type Phase struct {
	Name     string        `json:"name"`
	Status   Status        `json:"status"`
	Detail   string        `json:"detail,omitempty"`
	Duration time.Duration `json:"duration"`
	// Log is the program's output when the phase failed.
	Log string `json:"log,omitempty"`
}

// Line is the phase as one report line: name, status, duration and the detail's first
// line (a failure's detail may go on, e.g. with a schema diff).
func (p Phase) Line() string {
	detail, _, _ := strings.Cut(p.Detail, "\n")
	return fmt.Sprintf("%-9s %-8s %8s  %s", p.Name, p.Status, p.Duration.Round(time.Millisecond), detail)
}

// Result is the whole report.
type Result struct {
	Tag         string        `json:"tag"`
	PreviousTag string        `json:"previousTag,omitempty"`
	Phases      []Phase       `json:"phases"`
	Duration    time.Duration `json:"duration"`
	// Analysis is the analyze phase's report, when it ran.
	Analysis *analyze.Report `json:"analysis,omitempty"`
}

// Container is what a Kubernetes container runs: the image and the command and args
// that override its entrypoint and cmd, plus literal environment values.
type Container struct {
	Image   string   `json:"image"`
	Command []string `json:"command,omitempty"`
	Args    []string `json:"args,omitempty"`
	Env     []string `json:"env,omitempty"` // KEY=VALUE
	// Unresolved names environment sources the manifests do not hold (Secrets,
	// ConfigMaps made elsewhere): the program runs without them.
	Unresolved []string `json:"unresolved,omitempty"`
}

// Config is one pre-flight: the new release's migration, and the previous release's
// migration and service when there is one.
type Config struct {
	Tag         string
	PreviousTag string // empty: no previous release, phases previous and compat are skipped

	Migration         Container // the new release's migration
	PreviousMigration Container // image empty: skipped
	PreviousService   Container // image empty: compat skipped

	// DatabaseEnv is the variable the programs read the database URL from
	// (default DATABASE_URL).
	DatabaseEnv string
	// DatabaseURL is an existing scratch database to use (it is changed); empty starts
	// a throwaway PostgreSQL from the system's binaries.
	DatabaseURL string
	// CompatCheck is run against the previous service once it listens on $PORT: an HTTP
	// path ("/notes") or URL that must answer 2xx/3xx, or a shell command that must exit 0
	// (it gets SERVICE_URL, PORT and the database variable). Empty: the compat phase
	// only checks that the previous service starts and listens.
	CompatCheck string

	// Runner runs the programs; nil runs them on this machine (NewLocal with Keychain
	// and NameOptions). The Dagger module runs them in containers.
	Runner      Runner
	Keychain    authn.Keychain
	NameOptions []name.Option // e.g. name.Insecure for a plain-HTTP registry
	// Timeout bounds each program run (default 2m); the local runner gives the service
	// StartTimeout (default 30s) to listen.
	Timeout      time.Duration
	StartTimeout time.Duration
	// PassEnv names variables of tandem's own environment every program gets (e.g. a
	// Secret's value the service needs to start). Besides them, each variable the
	// manifests take from a source outside the build (env valueFrom a Secret) is passed
	// when tandem's environment has it. Nothing else of tandem's environment is.
	PassEnv []string
	// Redact lists secrets tandem knows (registry password, git token): never shown in
	// phases, logs or errors. The database URL's password and the passed values are
	// added to them.
	Redact []string
	// Progress is called after each phase.
	Progress func(Phase)

	// Migrations, when set, adds the analyze phase after the previous one: the new files
	// of this folder (after the version the previous release's migration recorded, or
	// Migrations.Since) run statement by statement on the live schema in a transaction
	// that is rolled back, their locks and rewrites measured (pkg/analyze). Errors fail
	// the phase (ErrUnsafeMigration); warnings are reported.
	Migrations *analyze.Config

	// Rollback proves the way back instead of the way forward: PreviousTag and
	// PreviousMigration are the live release's (replayed: the database gets the live
	// schema), Tag and Migration the target's (what the rollback's Job runs: it must
	// succeed and leave the live schema as it is), PreviousService the target's service
	// (started on the live schema, then the compat check). Phases: database, live,
	// migrate, compat; nothing is skipped for want of a previous release.
	Rollback bool
}

// Defaults of Config, shared by every door.
const (
	DefaultDatabaseEnv   = "DATABASE_URL"
	DefaultTimeout       = 2 * time.Minute
	DefaultPostgresImage = "postgres:17-alpine" // the Dagger runner's database service
)

// ErrBadCheck is returned for a compat check that cannot be run as given.
var ErrBadCheck = errors.New("invalid compat check")

// CheckCompat validates a compat check before anything runs: an HTTP path, an
// http(s) URL with a host, or a shell command.
func CheckCompat(check string) error {
	if !strings.HasPrefix(check, "http://") && !strings.HasPrefix(check, "https://") {
		return nil
	}
	u, err := neturl.Parse(check)
	if err != nil || u.Host == "" {
		why := "it has no host"
		if err != nil {
			why = err.Error()
		}
		return fmt.Errorf("%w %q: not a valid URL (%s): give a path such as /healthz, a full http://host/path URL, or a shell command", ErrBadCheck, check, why)
	}
	return nil
}

// passedEnv is what PassEnv and the containers' unresolved env names take from lookup.
func passedEnv(names []string, lookup func(string) (string, bool), cs ...Container) []string {
	var out []string
	seen := map[string]bool{}
	add := func(n string) {
		if v, ok := lookup(n); ok && !seen[n] {
			seen[n] = true
			out = append(out, n+"="+v)
		}
	}
	for _, n := range names {
		add(n)
	}
	for _, c := range cs {
		for _, u := range c.Unresolved {
			if n, ok := strings.CutPrefix(u, "env "); ok {
				add(n)
			}
		}
	}
	return out
}

// Run runs the pre-flight. Its error wraps one of the sentinels for a finding, or says
// what could not be run (ErrNoPostgres, ErrNeedsContainer, ErrNoImage, registry errors).
func Run(ctx context.Context, cfg Config) (res Result, err error) {
	start := time.Now()
	res = Result{Tag: cfg.Tag, PreviousTag: cfg.PreviousTag}
	defer func() { res.Duration = time.Since(start) }()
	if cfg.Migration.Image == "" {
		return res, errors.New("preflight: no migration image")
	}
	if cfg.DatabaseEnv == "" {
		cfg.DatabaseEnv = DefaultDatabaseEnv
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if err := CheckCompat(cfg.CompatCheck); err != nil {
		return res, err
	}
	passed := passedEnv(cfg.PassEnv, os.LookupEnv, cfg.Migration, cfg.PreviousMigration, cfg.PreviousService)
	secrets := append([]string(nil), cfg.Redact...)
	for _, kv := range passed {
		_, v, _ := strings.Cut(kv, "=")
		secrets = append(secrets, v)
	}
	if cfg.DatabaseURL != "" {
		secrets = append(secrets, cfg.DatabaseURL)
		if u, err := neturl.Parse(cfg.DatabaseURL); err == nil && u.User != nil {
			if pw, ok := u.User.Password(); ok {
				secrets = append(secrets, pw)
			}
		}
	}
	runner := cfg.Runner
	if runner == nil {
		l, err := NewLocal(cfg.Keychain, cfg.StartTimeout, cfg.NameOptions...)
		if err != nil {
			return res, err
		}
		defer l.Close()
		runner = l
	}
	x := &phases{cfg: cfg, res: &res, redact: newRedactor(secrets)}
	if p, ok := runner.(Prefetcher); ok {
		// The images are pulled and unpacked while the database starts.
		p.Prefetch(cfg.PreviousMigration.Image, cfg.Migration.Image, cfg.PreviousService.Image)
	}

	// database
	url := cfg.DatabaseURL
	if err := x.phase(PhaseDatabase, func() (Status, string, string, error) {
		if url != "" {
			// Reached now, so that a wrong URL fails here and not as a failed migration.
			if _, err := runner.Schema(ctx, url); err != nil {
				return "", "", "", fmt.Errorf("%w: cannot reach the given database: %w", ErrDatabase, err)
			}
			return StatusPassed, "given scratch database", "", nil
		}
		u, where, stop, err := runner.Database(ctx)
		if err != nil {
			return "", "", "", err
		}
		x.stop = append(x.stop, stop)
		url = u
		return StatusPassed, "throwaway PostgreSQL " + where, "", nil
	}); err != nil {
		return res, err
	}
	defer x.cleanup()
	dbEnv := cfg.DatabaseEnv + "=" + url
	envOf := func(c Container) []string {
		return append(append(append([]string(nil), passed...), c.Env...), dbEnv)
	}
	run := func(c Container) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
		log, err := runner.Run(ctx, c, envOf(c))
		if err != nil && ctx.Err() == context.DeadlineExceeded {
			err = fmt.Errorf("still running after %s: %w", cfg.Timeout, err)
		}
		return log, err
	}

	// previous: bring the database to what is live.
	noPrevious := "no previous release"
	liveApplied := false
	w := wordsFor(cfg.Rollback)
	if err := x.phase(w.previousPhase, func() (Status, string, string, error) {
		if cfg.PreviousMigration.Image == "" {
			if cfg.Rollback {
				return "", "", "", errors.New("preflight: a rollback proof needs the live release's migration")
			}
			return StatusSkipped, noPrevious, "", nil
		}
		log, err := run(cfg.PreviousMigration)
		if errors.Is(err, ErrNoImage) && !cfg.Rollback {
			cfg.PreviousService.Image = "" // nothing was live
			noPrevious = "no image " + cfg.PreviousMigration.Image + " (first release?)"
			return StatusSkipped, noPrevious, "", nil
		}
		if errors.Is(err, ErrNeedsContainer) {
			return "", "", "", err
		}
		if err != nil {
			return "", "", log, fmt.Errorf("%w: %s %s: %w", ErrMigrationFailed, w.previousMigration, cfg.PreviousMigration.Image, err)
		}
		liveApplied = true
		return StatusPassed, cfg.PreviousMigration.Image + " applied", "", nil
	}); err != nil {
		return res, err
	}

	// analyze: what the new files do to the live schema, measured. Its errors fail the
	// pre-flight at the end: the phases after it still run and show what happens.
	var unsafe error
	if cfg.Migrations != nil && !cfg.Rollback {
		if err := x.phase(PhaseAnalyze, func() (Status, string, string, error) {
			if !liveApplied {
				return StatusSkipped, noPrevious + ": no live database to analyse against", "", nil
			}
			return analyzePhase(ctx, runner, url, *cfg.Migrations, &res)
		}); errors.Is(err, ErrUnsafeMigration) {
			unsafe = err
		} else if err != nil {
			return res, err
		}
	}
	defer func() {
		if unsafe != nil {
			err = errors.Join(unsafe, err)
		}
	}()

	// migrate
	if err := x.phase(PhaseMigrate, func() (Status, string, string, error) {
		var before string
		if cfg.Rollback {
			var err error
			if before, err = runner.Schema(ctx, url); err != nil {
				return "", "", "", err
			}
		}
		log, err := run(cfg.Migration)
		if errors.Is(err, ErrNeedsContainer) || errors.Is(err, ErrNoImage) {
			return "", "", "", err
		}
		if err != nil && cfg.Rollback {
			return "", "", log, fmt.Errorf("%w: the target's migration %s on the live schema (the rollback's Job would fail the same way; a tool that refuses a database ahead of its files cannot roll back by image): %w", ErrMigrationFailed, cfg.Migration.Image, err)
		}
		if err != nil {
			return "", "", log, fmt.Errorf("%w: %s: %w", ErrMigrationFailed, cfg.Migration.Image, err)
		}
		if !cfg.Rollback {
			return StatusPassed, cfg.Migration.Image + " applied" + unresolved(cfg.Migration), "", nil
		}
		after, err := runner.Schema(ctx, url)
		if err != nil {
			return "", "", "", err
		}
		if d := diff(before, after); d != "" {
			return "", "", log, fmt.Errorf("%w: %s changed it:\n%s", ErrSchemaChanged, cfg.Migration.Image, d)
		}
		return StatusPassed, cfg.Migration.Image + " ran on the live schema and left it unchanged" + unresolved(cfg.Migration), "", nil
	}); err != nil {
		return res, err
	}

	// rerun: a Job deleted by hand is re-created and runs again; the second run must be a
	// no-op. A rollback's migrate phase already proved its run changes nothing.
	if err := x.phase(PhaseRerun, func() (Status, string, string, error) {
		if cfg.Rollback {
			return StatusSkipped, "the migrate phase proved the target's migration a no-op on the live schema", "", nil
		}
		before, err := runner.Schema(ctx, url)
		if err != nil {
			return "", "", "", err
		}
		log, err := run(cfg.Migration)
		if err != nil {
			return "", "", log, fmt.Errorf("%w: the second run of %s failed: %w", ErrNotIdempotent, cfg.Migration.Image, err)
		}
		after, err := runner.Schema(ctx, url)
		if err != nil {
			return "", "", "", err
		}
		if d := diff(before, after); d != "" {
			return "", "", log, fmt.Errorf("%w: the second run of %s changed the schema:\n%s", ErrNotIdempotent, cfg.Migration.Image, d)
		}
		return StatusPassed, "second run left the schema unchanged", "", nil
	}); err != nil {
		return res, err
	}

	// compat: the previous release's pods serve on the new schema during the rollout (a
	// rollback's: the target's service serves on the live schema).
	err = x.phase(PhaseCompat, func() (Status, string, string, error) {
		c := cfg.PreviousService
		if c.Image == "" {
			if cfg.Rollback {
				return "", "", "", fmt.Errorf("%w: the manifests run no service of %s to check", ErrTargetIncompatible, cfg.Tag)
			}
			return StatusSkipped, noPrevious, "", nil
		}
		svc, err := runner.Serve(ctx, c, envOf(c))
		if err != nil {
			if errors.Is(err, ErrServiceExited) {
				return "", "", serviceLog(svc), fmt.Errorf("%w: %s %s on %s: %w", w.incompatible, w.service, c.Image, w.schema, err)
			}
			return "", "", serviceLog(svc), err
		}
		defer svc.Stop()
		check := cfg.CompatCheck
		switch {
		case check == "":
			return StatusPassed, c.Image + " started and listens on " + w.schema + " (no compat check given)", "", nil
		case strings.HasPrefix(check, "/") || strings.HasPrefix(check, "http://") || strings.HasPrefix(check, "https://"):
			status, body, err := get(ctx, svc, check, 5*time.Second)
			if err != nil {
				return "", "", svc.Log(), fmt.Errorf("%w: %s of %s %s: %w", w.incompatible, check, w.service, c.Image, err)
			}
			if status >= 400 {
				return "", "", svc.Log(), fmt.Errorf("%w: GET %s of %s %s answered %d: %s", w.incompatible, check, w.service, c.Image, status, body)
			}
			return StatusPassed, fmt.Sprintf("%s %s: GET %s answered %d on %s", w.service, c.Image, check, status, w.schema), "", nil
		default:
			cctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
			defer cancel()
			out, err := svc.Exec(cctx, check, append(append([]string(nil), passed...), dbEnv)...)
			if err != nil && cctx.Err() == context.DeadlineExceeded {
				err = fmt.Errorf("still running after %s: %w", cfg.Timeout, err)
			}
			if err != nil {
				return "", "", out + "\n--- service log ---\n" + svc.Log(), fmt.Errorf("%w: check %q against %s %s: %w", w.incompatible, check, w.service, c.Image, err)
			}
			return StatusPassed, fmt.Sprintf("%s %s: check %q passed on %s", w.service, c.Image, check, w.schema), "", nil
		}
	})
	return res, err
}

// words are what the phases call things: the way forward's, or a rollback proof's.
type words struct {
	previousPhase, previousMigration, service, schema string
	incompatible                                      error
}

func wordsFor(rollback bool) words {
	if rollback {
		return words{PhaseLive, "the live release's migration", "the target's service", "the live schema", ErrTargetIncompatible}
	}
	return words{PhasePrevious, "the previous release's migration", "the previous service", "the migrated schema", ErrIncompatible}
}

// DatabaseReacher is implemented by runners whose database URL is not the one this
// process reaches it at (the Dagger runner's service): the analysis connects from here.
type DatabaseReacher interface {
	HostURL(ctx context.Context, url string) (string, error)
}

// analyzePhase runs the analysis on the phase's database (at the live schema).
func analyzePhase(ctx context.Context, runner Runner, url string, cfg analyze.Config, res *Result) (Status, string, string, error) {
	if r, ok := runner.(DatabaseReacher); ok {
		u, err := r.HostURL(ctx, url)
		if err != nil {
			return "", "", "", fmt.Errorf("reaching the pre-flight's database for the analysis: %w", err)
		}
		url = u
	}
	cfg.DatabaseURL, cfg.Replay = url, false
	rep, err := analyze.Analyze(ctx, cfg)
	res.Analysis = &rep
	var lines []string
	for _, f := range rep.Findings {
		lines = append(lines, f.String())
	}
	if err != nil {
		return "", "", strings.Join(lines, "\n"), fmt.Errorf("analysing %s: %w", rep.Dir, err)
	}
	if n := rep.Errors(); n > 0 {
		return "", "", "", fmt.Errorf("%w: %d errors in %s:\n%s", ErrUnsafeMigration, n, rep.Dir, strings.Join(lines, "\n"))
	}
	detail := rep.Summary()
	for _, f := range rep.Findings {
		detail += "\n" + f.String()
	}
	return StatusPassed, detail, "", nil
}

// ErrDatabase is returned when the database phase cannot provide a database.
var ErrDatabase = errors.New("no scratch database")

// newRedactor replaces every secret (of 4 characters or more) with "***".
func newRedactor(secrets []string) *strings.Replacer {
	var pairs []string
	for _, s := range secrets {
		if len(s) >= 4 {
			pairs = append(pairs, s, "***")
		}
	}
	return strings.NewReplacer(pairs...)
}

// serviceLog is the service's output, if it started.
func serviceLog(s Service) string {
	if s == nil {
		return ""
	}
	return s.Log()
}

type phases struct {
	cfg    Config
	res    *Result
	stop   []func()
	redact *strings.Replacer
}

func (x *phases) cleanup() {
	for i := len(x.stop) - 1; i >= 0; i-- {
		x.stop[i]()
	}
}

// phase runs fn and records it with the status fn gives (passed or skipped), or failed.
func (x *phases) phase(name string, fn func() (status Status, detail, log string, err error)) error {
	t := time.Now()
	status, detail, log, err := fn()
	detail, log = x.redact.Replace(detail), x.redact.Replace(log)
	if err != nil {
		err = errmsg.Replace(err, x.redact.Replace)
	}
	p := Phase{Name: name, Status: status, Detail: detail, Duration: time.Since(t)}
	if err != nil {
		p.Status, p.Detail, p.Log = StatusFailed, err.Error(), log
	}
	progress.New(&x.res.Phases, x.cfg.Progress).Record(p)
	return err
}

// unresolved notes what a container ran without.
func unresolved(c Container) string {
	if len(c.Unresolved) == 0 {
		return ""
	}
	return " (without " + strings.Join(c.Unresolved, ", ") + ": not in the manifests)"
}

// get GETs path (or URL) from the service, retrying within grace while it is not there
// yet (connection refused, 502, 503, 504); it returns the answer.
func get(ctx context.Context, svc Service, path string, grace time.Duration) (int, string, error) {
	deadline := time.Now().Add(grace)
	for {
		status, body, err := svc.Get(ctx, path)
		starting := err != nil || status == http.StatusBadGateway || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
		if !starting || time.Now().After(deadline) {
			return status, body, err
		}
		select {
		case <-ctx.Done():
			return 0, "", ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// diff lists the lines only in a ("- ") and only in b ("+ "), in order.
func diff(a, b string) string {
	count := map[string]int{}
	for _, l := range strings.Split(b, "\n") {
		count[l]++
	}
	var out []string
	for _, l := range strings.Split(a, "\n") {
		if count[l] > 0 {
			count[l]--
			continue
		}
		out = append(out, "- "+l)
	}
	seen := map[string]int{}
	for _, l := range strings.Split(a, "\n") {
		seen[l]++
	}
	for _, l := range strings.Split(b, "\n") {
		if seen[l] > 0 {
			seen[l]--
			continue
		}
		out = append(out, "+ "+l)
	}
	return strings.Join(out, "\n")
}
