package main

import (
	"github.com/spf13/cobra"

	"github.com/tandem-ci/tandem/pkg/gitops"
	"github.com/tandem-ci/tandem/pkg/tag"
)

func newRollbackCmd() *cobra.Command {
	f := &releaseFlags{}
	cmd := &cobra.Command{
		Use:   "rollback",
		Short: "Prove an older release runs on the live schema, then roll forward to its images under a new tag",
		Long: `Roll the branch's live release back to an older one (--to, default the release before
the live one, from the branch's history of IMAGE_TAG commits).

Nothing is written until the target is proved on the live schema, on a throwaway
PostgreSQL: the live release's migration replayed, the target's migration run on it (the
rollback's Job runs it: it must leave the schema as it is), the target's service started
on it and the compat check. A refused rollback names the failing check: the way out is
forward, a new release.

Then it is a release of a new tag (v1.<pipeline>.<job> by default: newer than the live
one, so Flux's semver range and the branch's guard stay true) whose service and migration
images are the target's digests, tagged in the registry without a build; the commit says
what it rolls back to, then the artifact, and --reconcile/--watch as for a release.`,
		Args: cobra.NoArgs,
		RunE: f.runWhole,
	}
	tagFlags(cmd, &f.tag)
	fs := cmd.Flags()
	// A rollback's tag must be newer than the release of its own pipeline.
	format := fs.Lookup("tag-format")
	f.tag.Format = firstOf(env("TANDEM_ROLLBACK_TAG_FORMAT"), tag.DefaultRollbackFormat)
	format.DefValue = f.tag.Format
	format.Usage = "format of the rollback's tag, Go template over .PipelineID .JobID .ShortSHA .CommitSHA .Branch ($TANDEM_ROLLBACK_TAG_FORMAT): newer than the live release's"
	f.rollback = true
	fs.StringVar(&f.rollbackTo, "to", env("TANDEM_ROLLBACK_TO"), "the release to go back to ($TANDEM_ROLLBACK_TO; default: the release before the live one)")
	fs.IntVar(&f.historyDepth, "history-depth", gitops.DefaultHistoryDepth, "commits of the branch read to find the live release and the one before it")
	f.bindNames(fs)
	f.bindRegistry(fs)
	fs.StringVar(&f.image, "image", "", "service image repository (default <registry>/<app>)")
	fs.StringVar(&f.migrationImage, "migration-image", "", "migration image repository (default <image>-migration)")
	f.bindCommit(fs)
	f.bindArtifact(fs, "manifests folder inside the repository")
	fs.BoolVar(&f.dryRun, "dry-run", false, "find the target and run the proof; tag, commit and push nothing")
	f.pre.bind(fs)
	f.pre.enabled = true
	f.bindFlux(fs)
	return cmd
}
