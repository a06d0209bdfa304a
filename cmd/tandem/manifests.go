package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tandem-ci/tandem/internal/errmsg"
	"github.com/tandem-ci/tandem/pkg/analyze"
	"github.com/tandem-ci/tandem/pkg/lint"
	"github.com/tandem-ci/tandem/pkg/manifest"
	"github.com/tandem-ci/tandem/pkg/preflight"
	"github.com/tandem-ci/tandem/pkg/tag"
	"github.com/tandem-ci/tandem/pkg/variables"
)

func newInitCmd() *cobra.Command {
	var spec manifest.Spec
	var replicas int32
	var command string
	var force bool
	var waiter, registry, fluxDir string
	var flux manifest.FluxSpec
	var noFlux bool
	cmd := &cobra.Command{
		Use:   "init [DIR]",
		Short: "Write the pattern's k8s/ folder for one service (default DIR: k8s) and its Flux objects (flux/ beside it)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "k8s"
			if len(args) == 1 {
				dir = args[0]
			}
			spec.Replicas = &replicas
			if !cmd.Flags().Changed("waiter-image") {
				spec.WaiterImage = "" // the waiter's own image
			}
			res, err := manifest.Init(dir, spec, manifest.InitOptions{Registry: registry, MigrationCommand: command, Waiter: waiter,
				Flux: flux, FluxDir: fluxDir, NoFlux: noFlux, Force: force})
			if err != nil {
				return flagError(err, map[string]string{"MigrationCommand": "--migration-command", "Waiter": "--waiter"})
			}
			return emit(cmd, res, func(w io.Writer) {
				for _, f := range res.Files {
					fmt.Fprintln(w, "wrote", f)
				}
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&spec.App, "app", env("CI_PROJECT_NAME"), "app name: names the Deployment, ServiceAccount and <app>-migration Job ($CI_PROJECT_NAME)")
	f.StringVar(&spec.Namespace, "namespace", "", "namespace set by the kustomization (empty: none)")
	f.StringVar(&registry, "registry", env("CI_REGISTRY_IMAGE"), "the project's registry path; the images are <registry>/<app> and <registry>/<app>-migration, as tandem release pushes them ($CI_REGISTRY_IMAGE)")
	f.StringVar(&spec.Image, "image", "", "service image repository, without tag (default <registry>/<app>)")
	f.StringVar(&spec.MigrationImage, "migration-image", "", "migration image repository (default <image>-migration)")
	f.StringVar(&command, "migration-command", "", `migration command, e.g. "npx prisma migrate deploy"`)
	f.StringVar(&spec.ConfigMap, "config-map", "", "ConfigMap with the environment of service AND migration (default <app>-config)")
	f.StringVar(&spec.Secret, "secret", "", "Secret with DATABASE_URL etc. for service AND migration (default <app>-secrets)")
	f.Int32Var(&replicas, "replicas", manifest.DefaultReplicas, "Deployment replicas (0: scaled to zero)")
	f.Int32Var(&spec.Port, "port", manifest.DefaultPort, "container port of the service")
	f.StringVar(&waiter, "waiter", "k8s-wait-for", "init container that waits for the migration Job: k8s-wait-for, or tandem (fails fast and prints the failed migration's log; build it with tandem waiter-image)")
	f.StringVar(&spec.WaiterImage, "waiter-image", manifest.DefaultWaiterImage, "waiter image (overrides --waiter's default image)")
	f.StringVar(&spec.WaiterMode, "waiter-mode", manifest.DefaultWaiterMode, "waiter mode: job-wr or job")
	f.BoolVar(&spec.WaiterLogs, "waiter-logs", false, "also grant get pods and pods/log so tandem wait can print the failed migration's log")
	f.StringVar(&spec.Tag, "tag", manifest.DefaultTag, "initial IMAGE_TAG")
	f.Int32Var(&spec.TTLSeconds, "ttl", manifest.DefaultTTLSeconds, "ttlSecondsAfterFinished of the migration Job (default none: Flux prunes the previous release's Job, so the migration runs once; a TTL is for folders applied without prune, under Flux it makes Flux re-create the Job and re-run the migration)")
	f.BoolVar(&force, "force", false, "overwrite existing files")
	f.StringVar(&fluxDir, "flux-dir", "", "folder for the Flux OCIRepository and Kustomization (default: flux/ beside DIR; not part of the artifact)")
	f.BoolVar(&noFlux, "no-flux", false, "do not write the Flux objects")
	f.StringVar(&flux.Namespace, "flux-namespace", manifest.DefaultFluxNamespace, "namespace of the Flux objects")
	f.StringVar(&flux.Semver, "flux-semver", manifest.DefaultSemver, "the OCIRepository's ref.semver: the release tags it follows (default fits v1.<pipeline id>.0)")
	f.StringVar(&flux.ArtifactRepo, "artifact-repo", "", "artifact repository the release pushes to (default <image>/manifests)")
	f.BoolVar(&flux.Insecure, "insecure-registry", false, "the registry speaks plain HTTP (OCIRepository insecure: true)")
	return cmd
}

// flagError shows a library's field error under the flag that fills the field.
func flagError(err error, flags map[string]string) error {
	var fe *manifest.FieldError
	if errors.As(err, &fe) {
		if flag, ok := flags[fe.Field]; ok {
			return fmt.Errorf("%s %w", flag, fe.Err)
		}
	}
	return err
}

func newRenderCmd() *cobra.Command {
	var releaseTag string
	cmd := &cobra.Command{
		Use:   "render DIR",
		Short: "Build the kustomization in DIR (like kustomize build), optionally as if IMAGE_TAG were --tag",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out []byte
			var err error
			if releaseTag == "" {
				out, err = manifest.BuildYAML(cmd.Context(), args[0])
			} else if m, berr := manifest.BuildWithTag(cmd.Context(), args[0], releaseTag); berr != nil {
				err = berr
			} else {
				out, err = m.AsYaml()
			}
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	cmd.Flags().StringVar(&releaseTag, "tag", "", "build as if data.IMAGE_TAG were this tag (files are not changed)")
	return cmd
}

func newLintCmd() *cobra.Command {
	var fluxDir, tagFormat, databaseURL string
	var mig migrationsFlags
	cmd := &cobra.Command{
		Use:   "lint [DIR]",
		Short: "Check a kustomization folder (and its Flux objects) for the migration pattern's known mistakes, and with --migrations what each new statement does to a live database (exit 1 on errors)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && mig.dir == "" {
				return errors.New("give DIR (a kustomization folder) or --migrations DIR (a migrations folder), or both")
			}
			var rep *lint.Report
			if len(args) == 1 {
				opts := []lint.Option{lint.WithTagFormat(tagFormat)}
				if fluxDir != "" {
					opts = append(opts, lint.WithFluxDir(fluxDir))
				}
				r, err := lint.Lint(cmd.Context(), args[0], opts...)
				if err != nil {
					return err
				}
				rep = &r
			}
			var an *analyze.Report
			if cfg := mig.config(); cfg != nil {
				r, err := analyzeMigrations(cmd, *cfg, databaseURL)
				an = &r
				if err != nil {
					if format, _ := outputFormat(cmd); format == "json" {
						emit(cmd, migrationsResult{rep, an}, nil)
					}
					return err
				}
			}
			var out any = rep
			if an != nil {
				out = migrationsResult{rep, an}
			}
			err := emit(cmd, out, func(w io.Writer) {
				if rep != nil {
					for _, f := range rep.Findings {
						fmt.Fprintln(w, f)
					}
					fmt.Fprintf(w, "%s: %d findings, %d errors\n", rep.Dir, len(rep.Findings), rep.Errors())
				}
				if an != nil {
					printAnalysis(w, *an)
				}
			})
			if err != nil {
				return err
			}
			n := 0
			if rep != nil {
				n += rep.Errors()
			}
			if an != nil {
				n += an.Errors()
			}
			if n > 0 {
				return &exitError{msg: fmt.Sprintf("%d lint errors", n)}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&fluxDir, "flux", "", "folder of the Flux OCIRepository and Kustomization to check too (default: flux/ beside DIR, when present)")
	cmd.Flags().StringVar(&tagFormat, "tag-format", env("TANDEM_TAG_FORMAT"), "release tag format the OCIRepository's ref.semver must accept (default "+tag.DefaultFormat+")")
	mig.bind(cmd.Flags(), "migrations folder to analyse on PostgreSQL: the live files are replayed, each new statement is run and measured (locks, rewrites) and checked (Atlas's analyzers, tandem's lock checks)")
	cmd.Flags().StringVar(&databaseURL, "database-url", "", "empty scratch PostgreSQL database for --migrations instead of a throwaway one; it is changed ($TANDEM_PREFLIGHT_DATABASE_URL; never printed)")
	return cmd
}

// migrationsResult is lint's JSON with --migrations.
type migrationsResult struct {
	Manifests  *lint.Report    `json:"manifests"`
	Migrations *analyze.Report `json:"migrations"`
}

// analyzeMigrations replays and analyses cfg on the given database, else a throwaway one.
func analyzeMigrations(cmd *cobra.Command, cfg analyze.Config, databaseURL string) (analyze.Report, error) {
	cfg.Replay, cfg.DatabaseURL = true, firstOf(databaseURL, env("TANDEM_PREFLIGHT_DATABASE_URL"))
	if cfg.DatabaseURL == "" {
		pg, err := preflight.StartPostgres(cmd.Context())
		if err != nil {
			return analyze.Report{Dir: cfg.Dir}, fmt.Errorf("--migrations runs the statements on PostgreSQL: %w (or give --database-url)", err)
		}
		defer pg.Stop()
		cfg.DatabaseURL = pg.URL
	}
	rep, err := analyze.Analyze(cmd.Context(), cfg)
	if err != nil && cfg.DatabaseURL != "" {
		err = errmsg.Replace(err, func(s string) string { return strings.ReplaceAll(s, cfg.DatabaseURL, "***") })
	}
	return rep, err
}

// printAnalysis prints the measured statements of each new file, the findings and a summary.
func printAnalysis(w io.Writer, rep analyze.Report) {
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "%s/%s: not analysed: %s\n", rep.Dir, s.File, s.Reason)
	}
	for _, f := range rep.Files {
		fmt.Fprintf(w, "%s/%s (%s):\n", rep.Dir, f.Name, f.Duration.Round(time.Millisecond))
		for _, s := range f.Statements {
			fmt.Fprintf(w, "  L%-4d %-60s %s\n", s.Line, oneLine(s.Text, 60), s.Measured())
		}
	}
	for _, f := range rep.Findings {
		fmt.Fprintln(w, f)
	}
	fmt.Fprintf(w, "%s (%s): %s\n", rep.Dir, rep.Format, rep.Summary())
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n-3] + "..."
	}
	return s
}

func newBumpCmd() *cobra.Command {
	var cfg tag.Config
	cmd := &cobra.Command{
		Use:   "bump [FILE]",
		Short: "Set IMAGE_TAG in deployment-variables.yaml (default FILE: " + variables.DefaultFile + ")",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := variables.DefaultFile
			if len(args) == 1 {
				file = args[0]
			}
			t, err := computeTag(cfg)
			if err != nil {
				return err
			}
			res, err := variables.SetFile(file, t.Tag)
			if err != nil && !errors.Is(err, variables.ErrUnchanged) {
				return err
			}
			return emit(cmd, res, func(w io.Writer) {
				if res.Changed {
					fmt.Fprintf(w, "%s: IMAGE_TAG %s -> %s\n", res.File, res.Old, res.New)
				} else {
					fmt.Fprintf(w, "%s: IMAGE_TAG already %s, unchanged\n", res.File, res.New)
				}
			})
		},
	}
	tagFlags(cmd, &cfg)
	return cmd
}

// computeTag is tag.Compute, with the CLI's ways to give a tag when there is none.
func computeTag(cfg tag.Config) (tag.Result, error) {
	t, err := tag.Compute(cfg)
	if errors.Is(err, tag.ErrNoSource) {
		return t, fmt.Errorf("%w: pass --tag, set CI_PIPELINE_ID, or run inside a git repository", err)
	}
	return t, err
}

func newTagCmd() *cobra.Command {
	var cfg tag.Config
	var app string
	cmd := &cobra.Command{
		Use:   "tag",
		Short: "Print the release tag computed from --tag, $CI_PIPELINE_ID or the git commit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := computeTag(cfg)
			if err != nil {
				return err
			}
			out := struct {
				tag.Result
				JobName string `json:"jobName,omitempty"`
			}{Result: t}
			if app != "" {
				if out.JobName, err = tag.JobName(app, t.Tag); err != nil {
					return err
				}
			}
			return emit(cmd, out, func(w io.Writer) { fmt.Fprintln(w, t.Tag) })
		},
	}
	tagFlags(cmd, &cfg)
	cmd.Flags().StringVar(&app, "app", env("CI_PROJECT_NAME"), "also check that <app>-migration-<tag> is a valid Job name ($CI_PROJECT_NAME)")
	return cmd
}

// tagFlags binds the flags every command computing a tag shares.
func tagFlags(cmd *cobra.Command, cfg *tag.Config) {
	envCfg := tag.FromEnv(nil)
	f := cmd.Flags()
	f.StringVar(&cfg.Explicit, "tag", envCfg.Explicit, "release tag ($TANDEM_TAG); default computed from $CI_PIPELINE_ID or the git commit")
	f.StringVar(&cfg.Format, "tag-format", envCfg.Format, "format for pipeline tags, Go template over .PipelineID .JobID .ShortSHA .CommitSHA .Branch ($TANDEM_TAG_FORMAT; default "+tag.DefaultFormat+")")
	f.StringVar(&cfg.PipelineID, "pipeline-id", envCfg.PipelineID, "pipeline ID ($CI_PIPELINE_ID)")
	f.StringVar(&cfg.JobID, "job-id", envCfg.JobID, "job ID, for formats using .JobID ($CI_JOB_ID)")
	f.StringVar(&cfg.CommitSHA, "commit", envCfg.CommitSHA, "commit SHA ($CI_COMMIT_SHA)")
	f.StringVar(&cfg.RepoDir, "repo", ".", "git repository whose HEAD gives the fallback tag")
	cfg.Branch = envCfg.Branch
}
