package release

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tandem-ci/tandem/pkg/artifact"
	"github.com/tandem-ci/tandem/pkg/cluster"
	"github.com/tandem-ci/tandem/pkg/gitops"
	"github.com/tandem-ci/tandem/pkg/image"
	"github.com/tandem-ci/tandem/pkg/preflight"
	"github.com/tandem-ci/tandem/pkg/variables"
)

// ImagePublisher builds (or finds) and publishes both images under tag.
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

// Validator is implemented by steps that can check their inputs before the release
// starts: Run calls every step's Validate before the first step runs.
type Validator interface {
	Validate(ctx context.Context, tag string) error
}

// Describer is implemented by steps that can say what they would do.
type Describer interface{ Describe(tag string) string }

// Status is a step's outcome.
type Status string

// Step outcomes.
const (
	StatusPlanned   Status = "planned"   // Plan only: what Run would do
	StatusDone      Status = "done"      // did it
	StatusUnchanged Status = "unchanged" // already so; nothing written
	StatusSkipped   Status = "skipped"   // not run (e.g. superseded)
	StatusFailed    Status = "failed"
)

// Step names, in the order a release runs them.
const (
	StepImages    = "images"
	StepCommit    = "commit"
	StepArtifact  = "artifact"
	StepReconcile = "reconcile"
	StepWatch     = "watch"
)

// Step is one step's outcome.
type Step struct {
	Name     string        `json:"name"`
	Status   Status        `json:"status"`
	Detail   string        `json:"detail,omitempty"`
	Duration time.Duration `json:"duration"`
}

// Result is everything a release did.
type Result struct {
	Tag        string               `json:"tag"`
	Plan       *Plan                `json:"plan,omitempty"`
	Superseded bool                 `json:"superseded,omitempty"`
	Images     *image.Result        `json:"images,omitempty"`
	Preflight  *preflight.Result    `json:"preflight,omitempty"`
	Commit     *gitops.Result       `json:"commit,omitempty"`
	Artifact   *artifact.Result     `json:"artifact,omitempty"`
	Reconciled []cluster.Reconciled `json:"reconciled,omitempty"`
	Rollout    *cluster.Rollout     `json:"rollout,omitempty"`
	Steps      []Step               `json:"steps"`
	Duration   time.Duration        `json:"duration"`
}

// Release wires the steps of one resolved Plan. A nil step is skipped.
type Release struct {
	Plan       Plan
	Images     ImagePublisher
	Committer  Committer
	Artifacts  ArtifactPusher
	Reconciler Reconciler
	Watcher    Watcher
	// Preflight, when set, runs after the images and before the commit: a failure leaves
	// git and the artifact untouched.
	Preflight      Preflighter
	PushSuperseded bool            // push the artifact even when a newer tag is on the branch
	Progress       func(step Step) // called after each step of Run
	// Timeout bounds each step (each talks to one server); 0: only the context's deadline.
	Timeout time.Duration
}

// ErrStepTimeout is returned when a step was still waiting on the network when the
// release's deadline passed.
var ErrStepTimeout = errors.New("timed out")

func (r *Release) steps() []struct {
	name string
	step any
} {
	return []struct {
		name string
		step any
	}{{StepImages, r.Images}, {StepPreflight, r.Preflight}, {StepCommit, r.Committer}, {StepArtifact, r.Artifacts}, {StepReconcile, r.Reconciler}, {StepWatch, r.Watcher}}
}

// Planned returns what Run would do, one planned step each, without doing anything.
func (r *Release) Planned() Result {
	p := r.Plan
	res := Result{Tag: p.Tag, Plan: &p}
	for _, s := range r.steps() {
		if d, ok := s.step.(Describer); ok && s.step != nil {
			res.Steps = append(res.Steps, Step{Name: s.name, Status: StatusPlanned, Detail: d.Describe(p.Tag)})
		}
	}
	return res
}

// run records the steps of one Run.
type run struct {
	r   *Release
	res *Result
	ctx context.Context
}

// host names what step talks to, for timeout messages.
func (r *Release) host(step string) string {
	repo := r.Plan.ServiceRepository
	switch step {
	case StepCommit:
		if u, err := url.Parse(r.Plan.RepoURL); err == nil && u.Host != "" {
			return "git server " + u.Host
		}
		return "the git server"
	case StepArtifact:
		repo = r.Plan.ArtifactRepository
	case StepReconcile, StepWatch:
		return "the Kubernetes API server"
	case StepPreflight:
		return "the pre-flight's database and programs"
	}
	if h, _, ok := strings.Cut(repo, "/"); ok {
		return "registry " + h
	}
	return "the registry"
}

// bounded runs fn under the step's deadline; an error caused by that deadline says so.
func (x *run) bounded(name string, fn func(ctx context.Context) error) error {
	t := time.Now()
	ctx := x.ctx
	// reconcile and watch carry their own deadlines and say what they waited for.
	if x.r.Timeout > 0 && name != StepReconcile && name != StepWatch {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, x.r.Timeout)
		defer cancel()
	}
	err := fn(ctx)
	// A server that kept failing until the deadline is not a server that was slow: the
	// error already says what it answered.
	if err != nil && x.ctx.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && !errors.Is(err, gitops.ErrServerFailing) {
		err = fmt.Errorf("%s step: %w after %s waiting for %s (raise --timeout, or check the host): %w", name, ErrStepTimeout, time.Since(t).Round(time.Millisecond), x.r.host(name), err)
	}
	return err
}

// step times fn, run under the step's deadline, and records its outcome.
func (x *run) step(name string, fn func(ctx context.Context) (Status, string, error)) error {
	t := time.Now()
	var status Status
	var detail string
	err := x.bounded(name, func(ctx context.Context) (err error) {
		status, detail, err = fn(ctx)
		return err
	})
	if err != nil {
		status = StatusFailed
	}
	x.record(Step{Name: name, Status: status, Detail: detail, Duration: time.Since(t)})
	return err
}

// record adds s to the result and reports it.
func (x *run) record(s Step) {
	x.res.Steps = append(x.res.Steps, s)
	if x.r.Progress != nil {
		x.r.Progress(s)
	}
}

// Run releases the plan's tag. On ErrSuperseded from the commit step the artifact push
// is skipped (unless PushSuperseded) and Run returns the result with Superseded set and
// a nil error: a newer release already owns the branch.
func (r *Release) Run(ctx context.Context) (res Result, err error) {
	start := time.Now()
	p := r.Plan
	tag := p.Tag
	res = Result{Tag: tag, Plan: &p}
	x := &run{r: r, res: &res, ctx: ctx}
	defer func() { res.Duration = time.Since(start) }()
	// Everything that can be checked cheaply is, before the first image is built: the
	// branch, its variables file, the credentials, a newer tag already there.
	for _, s := range r.steps() {
		v, ok := s.step.(Validator)
		if !ok || s.step == nil {
			continue
		}
		t := time.Now()
		err := x.bounded(s.name, func(ctx context.Context) error { return v.Validate(ctx, tag) })
		if errors.Is(err, gitops.ErrSuperseded) && !r.PushSuperseded {
			return r.superseded(x), nil
		}
		if err != nil && !errors.Is(err, gitops.ErrSuperseded) {
			x.record(Step{Name: s.name, Status: StatusFailed, Detail: "checked before anything ran", Duration: time.Since(t)})
			if errors.Is(err, ErrStepTimeout) {
				return res, err
			}
			return res, fmt.Errorf("%s step: %w", s.name, err)
		}
	}

	if r.Images != nil {
		if err := x.step(StepImages, func(ctx context.Context) (Status, string, error) {
			img, err := r.Images.PublishImages(ctx, tag)
			if err != nil {
				return "", "", err
			}
			res.Images = &img
			return StatusDone, fmt.Sprintf("%s@%s, %s@%s (migration layers uploaded: %d)",
				img.Service.Ref, img.Service.Digest, img.Migration.Ref, img.Migration.Digest, img.Migration.LayersUploaded), nil
		}); err != nil {
			return res, err
		}
	}
	if r.Preflight != nil {
		if err := x.step(StepPreflight, func(ctx context.Context) (Status, string, error) {
			pr, err := r.Preflight.Preflight(ctx, tag)
			res.Preflight = &pr
			if err != nil {
				detail := "could not start"
				if n := len(pr.Phases); n > 0 && pr.Phases[n-1].Status == preflight.StatusFailed {
					detail = "failed in phase " + pr.Phases[n-1].Name
				}
				if r.Committer == nil && r.Artifacts == nil {
					return "", detail, fmt.Errorf("pre-flight of %s: %w", tag, err)
				}
				pushed := "no image was pushed"
				if res.Images != nil {
					pushed = "the images " + res.Images.Service.Ref + " and " + res.Images.Migration.Ref + " are pushed"
				}
				return "", detail + "; nothing committed", fmt.Errorf("pre-flight of %s: %w (nothing committed, no artifact pushed; %s)", tag, err, pushed)
			}
			passed := 0
			for _, ph := range pr.Phases {
				if ph.Status == preflight.StatusPassed {
					passed++
				}
			}
			return StatusDone, fmt.Sprintf("%d of %d phases passed, %d skipped", passed, len(pr.Phases), len(pr.Phases)-passed), nil
		}); err != nil {
			return res, err
		}
	}
	dir, revision := or(p.ManifestsPath, DefaultManifestsPath), ""
	if r.Committer != nil {
		var c gitops.Result
		err := x.step(StepCommit, func(ctx context.Context) (Status, string, error) {
			var err error
			c, err = r.Committer.Commit(ctx, tag)
			res.Commit = &c
			switch {
			case errors.Is(err, gitops.ErrSuperseded):
				res.Superseded = true
				return StatusSkipped, fmt.Sprintf("branch holds newer %s", c.Old), nil
			case errors.Is(err, gitops.ErrNothingToCommit):
				return StatusUnchanged, c.Branch + " already at " + tag + " (" + short(c.Commit) + ")", nil
			case err != nil:
				return "", "", err
			}
			return StatusDone, fmt.Sprintf("%s %s -> %s on %s", short(c.Commit), c.Old, c.New, c.Branch), nil
		})
		// The clone only serves the artifact push; the result keeps the commit, not the folder.
		if c.Dir != "" {
			defer func() {
				os.RemoveAll(c.Dir)
				res.Commit.Dir = ""
			}()
		}
		if err != nil {
			return res, err
		}
		if res.Superseded && !r.PushSuperseded {
			x.step(StepArtifact, func(ctx context.Context) (Status, string, error) { return StatusSkipped, "superseded by " + c.Old, nil })
			return res, nil
		}
		dir = filepath.Join(c.Dir, dir)
		revision = artifact.Revision(c.Branch, c.Commit)
		if res.Superseded {
			// PushSuperseded: ship this release's tag on top of the branch head, uncommitted.
			file := filepath.Join(c.Dir, filepath.FromSlash(or(p.VariablesFile, variables.DefaultFile)))
			if _, err := variables.SetFile(file, tag, variables.WithRoot(c.Dir)); err != nil {
				return res, fmt.Errorf("setting %s in %s for the artifact of a superseded release: %w", tag, p.VariablesFile, err)
			}
		}
	}
	if r.Artifacts != nil {
		if err := x.step(StepArtifact, func(ctx context.Context) (Status, string, error) {
			a, err := r.Artifacts.PushArtifact(ctx, dir, tag, revision)
			if err != nil && res.Commit != nil && res.Commit.Commit != "" && !res.Superseded {
				// The bump is on the branch: say so, and that a re-run finishes the job.
				return "", "", fmt.Errorf("%w (the commit %s setting IMAGE_TAG=%s already landed on %s: re-run the release to push the artifact; nothing is committed twice)", err, short(res.Commit.Commit), tag, res.Commit.Branch)
			}
			if err != nil {
				return "", "", err
			}
			res.Artifact = &a
			detail := a.Digest
			if a.ImageTagFrom != "" {
				detail += fmt.Sprintf(" (the folder's IMAGE_TAG %s set to %s in the artifact)", a.ImageTagFrom, tag)
			}
			if a.Unchanged {
				return StatusUnchanged, detail, nil
			}
			return StatusDone, detail, nil
		}); err != nil {
			return res, err
		}
	}
	if r.Reconciler != nil {
		if err := x.step(StepReconcile, func(ctx context.Context) (Status, string, error) {
			rec, err := r.Reconciler.Reconcile(ctx)
			res.Reconciled = rec
			var objs []string
			for _, o := range rec {
				objs = append(objs, o.Object+" at "+o.Revision)
			}
			return StatusDone, strings.Join(objs, ", "), err
		}); err != nil {
			return res, err
		}
	}
	if r.Watcher != nil && res.Superseded {
		// The cluster follows the newest tag: a superseded release never rolls out.
		x.step(StepWatch, func(context.Context) (Status, string, error) {
			return StatusSkipped, "superseded: the cluster stays on the newer " + res.Commit.Old, nil
		})
	} else if r.Watcher != nil {
		if err := x.step(StepWatch, func(ctx context.Context) (Status, string, error) {
			ro, err := r.Watcher.Watch(ctx, tag)
			res.Rollout = &ro
			if err != nil {
				return "", ro.Job.Reason, err
			}
			return StatusDone, fmt.Sprintf("%s complete, %s %d/%d available", ro.Job.Name, ro.Deployment, ro.Available, ro.Replicas), nil
		}); err != nil {
			return res, err
		}
	}
	return res, nil
}

// superseded ends a release whose branch already holds a newer tag before anything is
// built: every step is skipped, nothing is pushed.
func (r *Release) superseded(x *run) Result {
	res := x.res
	res.Superseded = true
	var c gitops.Result
	if ch, ok := r.Committer.(interface{ Checked() gitops.Result }); ok {
		c = ch.Checked()
		res.Commit = &c
	}
	for _, s := range r.steps() {
		if s.step == nil {
			continue
		}
		detail := "superseded: the branch holds the newer " + c.Old
		if s.name == StepCommit {
			detail = "branch holds newer " + c.Old
		}
		x.step(s.name, func(context.Context) (Status, string, error) { return StatusSkipped, detail, nil })
	}
	return *res
}

func short(sha string) string {
	if len(sha) > 8 {
		return sha[:8]
	}
	return sha
}
