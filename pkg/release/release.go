package release

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tandem-ci/tandem/pkg/artifact"
	"github.com/tandem-ci/tandem/pkg/cluster"
	"github.com/tandem-ci/tandem/pkg/gitops"
	"github.com/tandem-ci/tandem/pkg/image"
	"github.com/tandem-ci/tandem/pkg/variables"
)

// ImagePublisher builds and publishes both images under tag.
type ImagePublisher interface {
	PublishImages(ctx context.Context, tag string) (image.Result, error)
}

// Committer commits tag to the branch and returns the clone holding the result.
type Committer interface {
	Commit(ctx context.Context, tag string) (gitops.Result, error)
}

// ArtifactPusher pushes the manifests folder dir as the artifact for tag.
type ArtifactPusher interface {
	PushArtifact(ctx context.Context, dir, tag, revision string) (artifact.Result, error)
}

// Reconciler asks Flux to pick the new artifact up.
type Reconciler interface {
	Reconcile(ctx context.Context) ([]cluster.Reconciled, error)
}

// Watcher follows the release in the cluster.
type Watcher interface {
	Watch(ctx context.Context, tag string) (cluster.Rollout, error)
}

// Step is one step's outcome.
type Step struct {
	Name     string        `json:"name"`
	Status   string        `json:"status"` // done, unchanged, skipped, planned, failed
	Detail   string        `json:"detail,omitempty"`
	Duration time.Duration `json:"duration"`
}

// Result is everything a release did.
type Result struct {
	Tag        string               `json:"tag"`
	DryRun     bool                 `json:"dryRun,omitempty"`
	Superseded bool                 `json:"superseded,omitempty"`
	Images     *image.Result        `json:"images,omitempty"`
	Commit     *gitops.Result       `json:"commit,omitempty"`
	Artifact   *artifact.Result     `json:"artifact,omitempty"`
	Reconciled []cluster.Reconciled `json:"reconciled,omitempty"`
	Rollout    *cluster.Rollout     `json:"rollout,omitempty"`
	Steps      []Step               `json:"steps"`
	Duration   time.Duration        `json:"duration"`
}

// Release wires the steps. A nil step is skipped.
type Release struct {
	Images         ImagePublisher
	Committer      Committer
	Artifacts      ArtifactPusher
	Reconciler     Reconciler
	Watcher        Watcher
	ManifestsPath  string          // folder inside the repository; default k8s
	PushSuperseded bool            // push the artifact even when a newer tag is on the branch
	Progress       func(step Step) // called after each step
}

// describer is implemented by steps that can say what they would do (for --dry-run).
type describer interface{ Describe(tag string) string }

// Run releases tag. On ErrSuperseded from the commit step the artifact push is skipped
// (unless PushSuperseded) and Run returns the result with Superseded set and a nil error:
// a newer release already owns the branch.
func (r *Release) Run(ctx context.Context, tag string, dryRun bool) (Result, error) {
	start := time.Now()
	res := Result{Tag: tag, DryRun: dryRun}
	if dryRun {
		for _, s := range []struct {
			name string
			step any
		}{{"images", r.Images}, {"commit", r.Committer}, {"artifact", r.Artifacts}, {"reconcile", r.Reconciler}, {"watch", r.Watcher}} {
			if d, ok := s.step.(describer); ok {
				res.Steps = append(res.Steps, Step{Name: s.name, Status: "planned", Detail: d.Describe(tag)})
			}
		}
		return res, nil
	}
	record := func(s Step) {
		res.Steps = append(res.Steps, s)
		if r.Progress != nil {
			r.Progress(s)
		}
	}
	if r.Images != nil {
		t := time.Now()
		img, err := r.Images.PublishImages(ctx, tag)
		if err != nil {
			record(Step{Name: "images", Status: "failed", Duration: time.Since(t)})
			return res, err
		}
		res.Images = &img
		record(Step{Name: "images", Status: "done", Duration: time.Since(t), Detail: fmt.Sprintf("%s@%s, %s@%s (migration layers uploaded: %d)",
			img.Service.Ref, img.Service.Digest, img.Migration.Ref, img.Migration.Digest, img.Migration.LayersUploaded)})
	}
	dir, revision := r.ManifestsPath, ""
	if dir == "" {
		dir = "k8s"
	}
	if r.Committer != nil {
		t := time.Now()
		c, err := r.Committer.Commit(ctx, tag)
		res.Commit = &c
		// The clone only serves the artifact push; the result keeps the commit, not the folder.
		defer func() {
			os.RemoveAll(c.Dir)
			res.Commit.Dir = ""
		}()
		switch {
		case errors.Is(err, gitops.ErrSuperseded):
			res.Superseded = true
			record(Step{Name: "commit", Status: "skipped", Detail: fmt.Sprintf("branch holds newer %s", c.Old), Duration: time.Since(t)})
			if !r.PushSuperseded {
				record(Step{Name: "artifact", Status: "skipped", Detail: "superseded by " + c.Old})
				res.Duration = time.Since(start)
				return res, nil
			}
		case errors.Is(err, gitops.ErrNothingToCommit):
			record(Step{Name: "commit", Status: "unchanged", Detail: c.Branch + " already at " + tag + " (" + short(c.Commit) + ")", Duration: time.Since(t)})
		case err != nil:
			record(Step{Name: "commit", Status: "failed", Duration: time.Since(t)})
			return res, err
		default:
			record(Step{Name: "commit", Status: "done", Detail: fmt.Sprintf("%s %s -> %s on %s", short(c.Commit), c.Old, c.New, c.Branch), Duration: time.Since(t)})
		}
		dir = filepath.Join(c.Dir, dir)
		revision = artifact.Revision(c.Branch, c.Commit)
		if res.Superseded {
			// PushSuperseded: ship this release's tag on top of the branch head, uncommitted.
			if _, err := variables.SetFile(filepath.Join(dir, "deployment-variables.yaml"), tag); err != nil {
				return res, fmt.Errorf("setting %s in the artifact of a superseded release: %w", tag, err)
			}
		}
	}
	if r.Artifacts != nil {
		t := time.Now()
		a, err := r.Artifacts.PushArtifact(ctx, dir, tag, revision)
		if err != nil {
			record(Step{Name: "artifact", Status: "failed", Duration: time.Since(t)})
			return res, err
		}
		res.Artifact = &a
		status := "done"
		if a.Unchanged {
			status = "unchanged"
		}
		record(Step{Name: "artifact", Status: status, Detail: a.Digest, Duration: time.Since(t)})
	}
	if r.Reconciler != nil {
		t := time.Now()
		rec, err := r.Reconciler.Reconcile(ctx)
		res.Reconciled = rec
		if err != nil {
			record(Step{Name: "reconcile", Status: "failed", Duration: time.Since(t)})
			return res, err
		}
		var objs []string
		for _, o := range rec {
			objs = append(objs, o.Object+" at "+o.Revision)
		}
		record(Step{Name: "reconcile", Status: "done", Detail: strings.Join(objs, ", "), Duration: time.Since(t)})
	}
	if r.Watcher != nil {
		t := time.Now()
		ro, err := r.Watcher.Watch(ctx, tag)
		res.Rollout = &ro
		if err != nil {
			record(Step{Name: "watch", Status: "failed", Detail: ro.Job.Reason, Duration: time.Since(t)})
			return res, err
		}
		record(Step{Name: "watch", Status: "done", Detail: fmt.Sprintf("%s complete, %s %d/%d available", ro.Job.Name, ro.Deployment, ro.Available, ro.Replicas), Duration: time.Since(t)})
	}
	res.Duration = time.Since(start)
	return res, nil
}

func short(sha string) string {
	if len(sha) > 8 {
		return sha[:8]
	}
	return sha
}
