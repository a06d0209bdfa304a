package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"dagger/tandem/doors"
	"dagger/tandem/internal/dagger"

	"github.com/tandem-ci/tandem/pkg/analyze"
	"github.com/tandem-ci/tandem/pkg/image"
	"github.com/tandem-ci/tandem/pkg/preflight"
	"github.com/tandem-ci/tandem/pkg/release"
)

// PreflightReport is the pre-flight's report.
type PreflightReport struct {
	// The release tag whose migration was proved
	Tag string
	// The release on the branch before it (empty: none)
	PreviousTag string
	// Every phase passed (or was skipped)
	Passed bool
	// One entry a phase, in the order they ran
	Phases []*PreflightPhase
	// The whole report as JSON (pkg/preflight.Result)
	Json string
}

// PreflightPhase is one phase of the pre-flight.
type PreflightPhase struct {
	// database, previous, migrate, rerun or compat
	Name string
	// passed, skipped or failed
	Status string
	// What the phase found
	Detail string
	// Milliseconds it took
	DurationMs int
	// The program's output, when it failed
	Log string
}

// Preflight proves the release's migration before anything is committed: on a
// throwaway PostgreSQL service, it replays the migration of the release on the branch
// (IMAGE_TAG in the source's variables file), runs the new migration twice (a second run
// must change nothing), and starts the current release's service on the migrated schema
// (compatCheck: an HTTP path such as /notes, or a shell command). Any image runs here,
// in containers; the phases and their judgement are pkg/preflight's, as in
// `tandem preflight`.
// +cache="never"
func (m *Tandem) Preflight(
	ctx context.Context,
	// Release tag whose images are checked
	tag string,
	// Check of the current release's service on the migrated schema
	// +optional
	compatCheck string,
	// Variable the programs read the database URL from
	// +optional
	// +default="DATABASE_URL"
	databaseEnv string,
	// PostgreSQL image of the throwaway database
	// +optional
	// +default="postgres:17-alpine"
	postgresImage string,
) (*PreflightReport, error) {
	a := m.args()
	a.Tag = tag
	_, pw, err := m.secrets(ctx)
	if err != nil {
		return nil, err
	}
	p, err := release.ResolveSteps(a.Config("", pw), release.StepPreflight)
	if err != nil {
		return nil, release.ForDoor(err, doors.Fields)
	}
	reg, err := m.viaRegistryService(ctx, p, p.Registry(false))
	if err != nil {
		return nil, err
	}
	checkout, cfg, err := m.preflightSetup(ctx, p, compatCheck, databaseEnv, postgresImage)
	if err != nil {
		return nil, err
	}
	r, err := release.Build(ctx, p, release.Setup{Registry: reg, Checkout: checkout, Preflight: cfg})
	if err != nil {
		return nil, err
	}
	res, err := r.Run(ctx)
	if res.Preflight == nil {
		return nil, err
	}
	return preflightReport(*res.Preflight), err
}

// preflightReport is the pre-flight's result as the module's object.
func preflightReport(res preflight.Result) *PreflightReport {
	out := &PreflightReport{Tag: res.Tag, PreviousTag: res.PreviousTag, Passed: true, Json: jsonString(res)}
	for _, ph := range res.Phases {
		out.Phases = append(out.Phases, &PreflightPhase{Name: ph.Name, Status: string(ph.Status), Detail: ph.Detail,
			DurationMs: int(ph.Duration.Milliseconds()), Log: ph.Log})
		if ph.Status == preflight.StatusFailed {
			out.Passed = false
		}
	}
	return out
}

// preflightSetup exports the source (the checkout the pre-flight reads) and gives the
// pre-flight's options, its programs run by a containerRunner.
func (m *Tandem) preflightSetup(ctx context.Context, p release.Plan, compatCheck, databaseEnv, postgresImage string) (string, *preflight.Config, error) {
	checkout, err := exportDir(ctx, m.Source)
	if err != nil {
		return "", nil, err
	}
	runner := &containerRunner{postgresImage: postgresImage, registry: doors.RegistryHost(p.ServiceRepository), username: p.RegistryUsername,
		password: m.RegistryPassword}
	if m.RegistryService != nil {
		_, pw, err := m.secrets(ctx)
		if err != nil {
			return "", nil, err
		}
		reg, err := m.viaRegistryService(ctx, p, release.Registry{Keychain: image.Keychain(image.Credentials{Username: p.RegistryUsername, Password: pw}, nil)})
		if err != nil {
			return "", nil, err
		}
		runner.via = func(ctx context.Context, ref string) (*dagger.Container, error) {
			return m.importThroughFunction(ctx, ref, reg)
		}
	}
	cfg := &preflight.Config{Runner: runner, CompatCheck: compatCheck, DatabaseEnv: databaseEnv}
	if m.Migrations != "" {
		cfg.Migrations = &analyze.Config{Dir: m.Migrations, Since: m.MigrationsSince, Format: m.MigrationsFormat}
	}
	return checkout, cfg, nil
}

// containerRunner runs the pre-flight's programs as Dagger containers: PostgreSQL as a
// service bound as "db", each image as it would run in the cluster.
type containerRunner struct {
	postgresImage      string
	registry, username string
	password           *dagger.Secret
	// via, when set, pulls images through the function (see from)
	via func(ctx context.Context, image string) (*dagger.Container, error)
	db  *dagger.Service
}

var (
	_ preflight.Runner          = (*containerRunner)(nil)
	_ preflight.DatabaseReacher = (*containerRunner)(nil)
)

const (
	dbAlias      = "db"
	serviceAlias = "service"
	servicePort  = 8080
)

// from is image as a container: pulled by the engine, or, when the registry is a
// service (which the engine's puller cannot resolve), by the function and imported.
func (r *containerRunner) from(ctx context.Context, image string) (*dagger.Container, error) {
	if r.via != nil {
		return r.via(ctx, image)
	}
	c := dag.Container().From(image)
	if r.password != nil && r.username != "" {
		c = c.WithRegistryAuth(r.registry, r.username, r.password)
	}
	return c, nil
}

func (r *containerRunner) Database(ctx context.Context) (string, string, func(), error) {
	img := r.postgresImage
	if img == "" {
		img = preflight.DefaultPostgresImage
	}
	r.db = dag.Container().From(img).
		WithEnvVariable("POSTGRES_HOST_AUTH_METHOD", "trust").
		WithEnvVariable("POSTGRES_INITDB_ARGS", "--no-sync").
		WithExposedPort(5432).
		AsService(dagger.ContainerAsServiceOpts{UseEntrypoint: true, Args: []string{"postgres", "-c", "fsync=off", "-c", "full_page_writes=off"}})
	if _, err := r.db.Start(ctx); err != nil {
		return "", "", nil, engineError(fmt.Errorf("starting %s: %w", img, err))
	}
	stop := func() { r.db.Stop(context.WithoutCancel(ctx)) }
	return "postgres://postgres@" + dbAlias + ":5432/postgres?sslmode=disable", "in a " + img + " service container", stop, nil
}

// fresh makes every exec on c a new run: the engine caches execs by their inputs, and the
// migration's second run or a schema dump after it must not be a cache hit.
func fresh(c *dagger.Container) *dagger.Container {
	return c.WithEnvVariable("TANDEM_PREFLIGHT_RUN", strconv.FormatInt(time.Now().UnixNano(), 10))
}

// container is c's image with env and the database bound, ready to exec c's command.
func (r *containerRunner) container(ctx context.Context, c preflight.Container, env []string) (*dagger.Container, []string, error) {
	ctr, err := r.from(ctx, c.Image)
	if err != nil {
		return nil, nil, err
	}
	ep, err := ctr.Entrypoint(ctx)
	if err != nil {
		if strings.Contains(err.Error(), "not found") || strings.Contains(err.Error(), "MANIFEST_UNKNOWN") {
			return nil, nil, fmt.Errorf("%w: %s", preflight.ErrNoImage, c.Image)
		}
		return nil, nil, engineError(fmt.Errorf("pulling %s: %w", c.Image, err))
	}
	cmd, err := ctr.DefaultArgs(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		ctr = ctr.WithEnvVariable(k, v)
	}
	return fresh(ctr).WithServiceBinding(dbAlias, r.db), preflight.Argv(ep, cmd, c.Command, c.Args), nil
}

func (r *containerRunner) Run(ctx context.Context, c preflight.Container, env []string) (string, error) {
	ctr, argv, err := r.container(ctx, c, env)
	if err != nil {
		return "", err
	}
	ran := ctr.WithExec(argv, dagger.ContainerWithExecOpts{Expect: dagger.ReturnTypeAny})
	out, err := ran.CombinedOutput(ctx)
	if err != nil {
		return "", engineError(fmt.Errorf("running %s: %w", c.Image, err))
	}
	code, err := ran.ExitCode(ctx)
	if err != nil {
		return out, err
	}
	if code != 0 {
		return out, fmt.Errorf("exit status %d", code)
	}
	return out, nil
}

// HostURL is the database's URL as this function reaches it (the analysis connects from
// here): the service's endpoint instead of its alias.
func (r *containerRunner) HostURL(ctx context.Context, url string) (string, error) {
	endpoint, err := r.db.Endpoint(ctx, dagger.ServiceEndpointOpts{Port: 5432})
	if err != nil {
		return "", fmt.Errorf("the database service's endpoint: %w", err)
	}
	return strings.Replace(url, dbAlias+":5432", endpoint, 1), nil
}

func (r *containerRunner) Schema(ctx context.Context, url string) (string, error) {
	img := r.postgresImage
	if img == "" {
		img = preflight.DefaultPostgresImage
	}
	out, err := fresh(dag.Container().From(img)).WithServiceBinding(dbAlias, r.db).
		WithExec([]string{"pg_dump", "--schema-only", "--no-owner", "--no-privileges", url}).Stdout(ctx)
	if err != nil {
		return "", engineError(fmt.Errorf("pg_dump --schema-only: %w", err))
	}
	return preflight.NormalizeSchema(out), nil
}

func (r *containerRunner) Serve(ctx context.Context, c preflight.Container, env []string) (preflight.Service, error) {
	ctr, argv, err := r.container(ctx, c, append(env, "PORT="+strconv.Itoa(servicePort)))
	if err != nil {
		return nil, err
	}
	svc := ctr.WithExposedPort(servicePort).AsService(dagger.ContainerAsServiceOpts{Args: argv})
	if _, err := svc.Start(ctx); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", preflight.ErrServiceExited, c.Image, engineError(err))
	}
	return &containerService{r: r, svc: svc, ctx: context.WithoutCancel(ctx)}, nil
}

// containerService reaches the service from a curl container bound to it.
type containerService struct {
	r   *containerRunner
	svc *dagger.Service
	ctx context.Context
}

func (s *containerService) client() *dagger.Container {
	return fresh(dag.Container().From("curlimages/curl:8.11.1")).WithServiceBinding(serviceAlias, s.svc).
		WithEnvVariable("SERVICE_URL", "http://"+serviceAlias+":"+strconv.Itoa(servicePort)).
		WithEnvVariable("PORT", strconv.Itoa(servicePort))
}

func (s *containerService) Get(ctx context.Context, path string) (int, string, error) {
	u := path
	if strings.HasPrefix(u, "/") {
		u = "http://" + serviceAlias + ":" + strconv.Itoa(servicePort) + path
	}
	out, err := s.client().WithExec(preflight.CurlCheck(u)).Stdout(ctx)
	if err != nil {
		return 0, "", engineError(fmt.Errorf("GET %s: %w", u, err))
	}
	return preflight.ParseCurlCheck(out)
}

func (s *containerService) Exec(ctx context.Context, command string, env ...string) (string, error) {
	ctr := s.client().WithServiceBinding(dbAlias, s.r.db)
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		ctr = ctr.WithEnvVariable(k, v)
	}
	ran := ctr.WithExec([]string{"sh", "-c", command}, dagger.ContainerWithExecOpts{Expect: dagger.ReturnTypeAny})
	out, err := ran.CombinedOutput(ctx)
	if err != nil {
		return "", engineError(fmt.Errorf("check %q: %w", command, err))
	}
	if code, err := ran.ExitCode(ctx); err != nil || code != 0 {
		return out, errors.Join(err, fmt.Errorf("exit status %d", code))
	}
	return out, nil
}

// Log is not kept: a Dagger service's output goes to the engine's trace.
func (s *containerService) Log() string { return "" }

func (s *containerService) Stop() { s.svc.Stop(s.ctx) }
