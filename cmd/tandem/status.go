package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tandem-ci/tandem/pkg/release"
	"github.com/tandem-ci/tandem/pkg/status"
)

func newStatusCmd() *cobra.Command {
	f := &releaseFlags{}
	var watch, noCluster bool
	var interval time.Duration
	var history int
	cmd := &cobra.Command{
		Use:   "status",
		Short: "What is live: the branch's release joined across git, registry, Flux and the cluster, with a verdict first",
		Long: `One look at the release the branch holds: its IMAGE_TAG and the commit that set it, both
images' digests in the registry, the artifact (digest, source and revision annotations),
the OCIRepository's revision and the Kustomization's, the migration Job, the Deployment's
rollout and the digests its pods run. The verdict comes first: "live v1.43.0, consistent",
or the first thing that disagrees.

Exit codes: 0 consistent, 2 progressing (not fetched, not applied, migrating, rolling
out), 3 inconsistent (missing or disagreeing, will not settle by itself), 4 failed (the
migration or the Kustomization), 1 when it could not look. Without a kubeconfig only git
and the registry are asked, and the verdict says so.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.config(true)
			if err != nil {
				return err
			}
			p, err := release.ResolveSteps(cfg, release.StepStatus)
			if err != nil {
				return release.ForDoor(err, configFlags)
			}
			sc := status.Config{Plan: p, Registry: p.Registry(f.insecure), History: history}
			if !noCluster {
				if sc.Kube, sc.Dynamic, sc.Namespace, err = f.cluster.clients(); err != nil && f.cluster.kubeconfig != "" {
					return err
				} else if err != nil {
					sc.Kube, sc.Dynamic = nil, nil // no kubeconfig: git and registry only
				}
			}
			format, err := outputFormat(cmd)
			if err != nil {
				return err
			}
			var rep status.Report
			if watch {
				rep, err = status.Watch(cmd.Context(), sc, interval, f.cluster.timeout, func(r status.Report) {
					if format == "text" {
						fmt.Fprintf(cmd.OutOrStdout(), "%s  %s\n", time.Now().Format("15:04:05"), r.Verdict)
					}
				})
			} else {
				rep, err = status.Look(cmd.Context(), sc)
			}
			if err != nil && rep.Tag == "" {
				return err
			}
			if err := emit(cmd, rep, func(w io.Writer) { printStatus(w, rep) }); err != nil {
				return err
			}
			if err != nil {
				return err
			}
			if c := rep.State.ExitCode(); c != 0 {
				return &exitError{msg: rep.Verdict, code: c}
			}
			return nil
		},
	}
	fs := cmd.Flags()
	f.bindNames(fs)
	f.bindRegistry(fs)
	fs.StringVar(&f.image, "image", "", "service image repository (default <registry>/<app>)")
	fs.StringVar(&f.migrationImage, "migration-image", "", "migration image repository (default <image>-migration)")
	fs.StringVar(&f.artifactRepo, "artifact-repo", "", "artifact repository, host/path (default <image>/manifests)")
	fs.StringVar(&f.repoURL, "repo-url", "", "git repository (default $CI_PROJECT_URL.git, else the origin of --checkout)")
	fs.StringVar(&f.checkout, "checkout", ".", "local checkout whose origin and branch are the defaults outside GitLab")
	fs.StringVar(&f.branch, "branch", env("CI_COMMIT_BRANCH"), "branch whose release is looked at ($CI_COMMIT_BRANCH)")
	fs.StringVar(&f.gitUser, "git-username", env("TANDEM_GIT_USERNAME"), "git user for the token ($TANDEM_GIT_USERNAME)")
	fs.StringVar(&f.path, "path", release.DefaultManifestsPath, "manifests folder inside the repository")
	fs.StringVar(&f.file, "file", "", "file holding IMAGE_TAG inside the repository (default <path>/deployment-variables.yaml)")
	fs.StringVar(&f.fluxNamespace, "flux-namespace", release.DefaultFluxNamespace, "namespace of the Flux OCIRepository and Kustomization")
	fs.StringVar(&f.fluxSource, "flux-source", "", "OCIRepository (default: --app)")
	fs.StringVar(&f.fluxKustomization, "flux-kustomization", "", "Kustomization (default: the OCIRepository's name; \"-\" for none)")
	f.cluster.bind(fs)
	fs.BoolVar(&watch, "watch", false, "look again until consistent or failed (or --timeout)")
	fs.DurationVar(&interval, "interval", 2*time.Second, "time between looks with --watch")
	fs.IntVar(&history, "history", 0, "also list the last N releases of the branch (tag, commit, author, time, still in the registry)")
	fs.BoolVar(&noCluster, "no-cluster", false, "ask only git and the registry")
	return cmd
}

// printStatus is the report as text: the verdict first, then one line per system.
func printStatus(w io.Writer, r status.Report) {
	fmt.Fprintf(w, "%s\n  state      %s\n", r.Verdict, r.State)
	fmt.Fprintf(w, "  git        %s %s = %s, set by %s (%s) at %s\n", r.Git.Branch, r.Git.URL, r.Tag, short(r.Git.Commit), r.Git.Author, r.Git.Since.Format(time.RFC3339))
	if r.Images.Error != "" {
		fmt.Fprintf(w, "  images     %s\n", r.Images.Error)
	} else {
		fmt.Fprintf(w, "  images     %s\n             %s\n", r.Images.Service, r.Images.Migration)
	}
	if r.Artifact.Error != "" {
		fmt.Fprintf(w, "  artifact   %s: %s\n", r.Artifact.URL, r.Artifact.Error)
	} else {
		fmt.Fprintf(w, "  artifact   %s (source %s, revision %s)\n", r.Artifact.Digest, r.Artifact.Source, r.Artifact.Revision)
	}
	if c := r.Cluster; c == nil {
		fmt.Fprintln(w, "  cluster    not asked (no kubeconfig)")
	} else {
		fmt.Fprintf(w, "  source     %s Ready=%s at %s\n", c.Source.Object, c.Source.Ready, c.Source.Revision)
		if c.Kustomization.Object != "" {
			fmt.Fprintf(w, "  applied    %s Ready=%s at %s\n", c.Kustomization.Object, c.Kustomization.Ready, c.Kustomization.Revision)
		}
		job := c.Job.State
		if c.Job.Reason != "" {
			job += ": " + c.Job.Reason
		} else if c.Job.Duration > 0 {
			job += " in " + c.Job.Duration.String()
		}
		fmt.Fprintf(w, "  migration  %s %s\n", c.Job.Name, job)
		fmt.Fprintf(w, "  rollout    %s %d/%d available, %d updated, image %s\n", c.Rollout.Deployment, c.Rollout.Available, c.Rollout.Replicas, c.Rollout.Updated, c.Rollout.Image)
		for _, d := range c.Rollout.Digests {
			fmt.Fprintf(w, "             %s (%s, by %s): %d running, %d pending\n", d.Digest, d.Tag, d.By, d.Running, d.Pending)
		}
	}
	for _, p := range r.Problems[min(1, len(r.Problems)):] {
		fmt.Fprintf(w, "  also       %s\n", p)
	}
	for _, h := range r.History {
		reg := "in the registry"
		if !h.InRegistry {
			reg = "images gone from the registry"
		}
		fmt.Fprintf(w, "  history    %-14s %s %s %s  %s  (%s)\n", h.Tag, short(h.Commit), h.Time.Format(time.RFC3339), h.Author, strings.TrimSpace(h.Subject), reg)
	}
	fmt.Fprintf(w, "  looked in  %s\n", r.Duration.Round(time.Millisecond))
}

func short(sha string) string {
	if len(sha) > 8 {
		return sha[:8]
	}
	return sha
}
