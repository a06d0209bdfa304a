package main

import (
	"context"

	"github.com/tandem-ci/tandem/pkg/release"
	tagpkg "github.com/tandem-ci/tandem/pkg/tag"
)

// Rollback goes back to an older release (to; default the release before the live one,
// from the branch's history of IMAGE_TAG commits) by rolling forward to its images.
// Nothing is written until the target is proved on the live schema, in containers: the
// live release's migration replayed on a throwaway PostgreSQL service, the target's
// migration run on it (it must leave the schema as it is), the target's service started
// on it and the compat check. Then a new tag names the target's digests in the registry
// (nothing built), the commit names the target, the artifact is pushed and, with
// the constructor's kubeconfig, Flux reconciles: pkg/release's rollback, as
// `tandem rollback`.
// +cache="never"
func (m *Tandem) Rollback(
	ctx context.Context,
	// Release to go back to (default: the release before the live one)
	// +optional
	to string,
	// The rollback's tag; default computed from pipelineId and jobId
	// +optional
	tag string,
	// GitLab CI_PIPELINE_ID
	// +optional
	pipelineId string,
	// GitLab CI_JOB_ID
	// +optional
	jobId string,
	// The proof's check of the target's service on the live schema: an HTTP path or a shell command
	// +optional
	compatCheck string,
	// Find the target and run the proof only: tag, commit and push nothing
	// +optional
	dryRun bool,
) (*ReleaseResult, error) {
	a := m.args()
	a.To, a.Tag, a.PipelineId, a.JobId = to, tag, pipelineId, jobId
	a.TagFormat = m.RollbackTagFormat
	if a.TagFormat == "" {
		a.TagFormat = tagpkg.DefaultRollbackFormat
	}
	p, s, err := m.setup(ctx, a, true, true, compatCheck)
	if err != nil {
		return nil, err
	}
	r, err := release.Build(ctx, p, s)
	if err != nil {
		return nil, err
	}
	if dryRun {
		res, err := r.Rehearse(ctx)
		return releaseResult(res, true), err
	}
	res, err := r.Run(ctx)
	return releaseResult(res, false), err
}
