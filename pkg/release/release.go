package release

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime/trace"
	"strings"
	"time"

	"github.com/tandem-ci/tandem/pkg/artifact"
	"github.com/tandem-ci/tandem/pkg/cluster"
	"github.com/tandem-ci/tandem/pkg/gitops"
	"github.com/tandem-ci/tandem/pkg/image"
	"github.com/tandem-ci/tandem/pkg/preflight"
	"github.com/tandem-ci/tandem/pkg/progress"
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

// ReadOnly is implemented by steps that write nothing (the prebuilt images' check): the
// branch is then not checked before them, since the commit step checks it itself.
type ReadOnly interface{ WritesNothing() bool }

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
	Rollback   *RollbackResult      `json:"rollback,omitempty"`
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
	Preflight Preflighter
	// ProveFirst runs Preflight before the images (a rollback's proof: the images exist,
	// and a refused rollback must not have tagged them).
	ProveFirst     bool
	PushSuperseded bool            // push the artifact even when a newer tag is on the branch
	Progress       func(step Step) // called after each step of Run
	// Timeout bounds each step (each talks to one server); 0: only the context's deadline.
	Timeout time.Duration
}

// ErrStepTimeout is returned when a step was still waiting on the network when the
// release's deadline passed.
var ErrStepTimeout = errors.New("timed out")

// stepEntry is one step of a release, in the order Run runs them: its name, the
// configured step (nil: not run), and what running it does.
type stepEntry struct {
	name string
	step any
	run  func(x *run, ctx context.Context) (Status, string, error)
}

// steps is the one ordered list of a release's steps: Run validates, runs and Planned
// describes them in this order.
func (r *Release) steps() []stepEntry {
	images, proof := stepEntry{StepImages, r.Images, (*run).images}, stepEntry{StepPreflight, r.Preflight, (*run).preflight}
	if r.ProveFirst {
		images, proof = proof, images
	}
	return []stepEntry{
		images, proof,
		{StepCommit, r.Committer, (*run).commit},
		{StepArtifact, r.Artifacts, (*run).artifact},
		{StepReconcile, r.Reconciler, (*run).reconcile},
		{StepWatch, r.Watcher, (*run).watch},
	}
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

// run is the state of one Run: the steps' results, the folder the artifact ships and
// its revision (set by the commit), and whether the release ended early.
type run struct {
	r        *Release
	res      *Result
	ctx      context.Context
	dir      string
	revision string
	done     bool // superseded: the steps left are skipped
	// rehearsal: Rehearse, which writes nothing and checks everything.
	rehearsal bool
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
	// A region per step (and per check before the steps) in a TANDEM_TRACE trace.
	region := trace.StartRegion(ctx, name)
	err := fn(ctx)
	region.End()
	// A server that kept failing until the deadline is not a server that was slow: the
	// error already says what it answered.
	if err != nil && x.ctx.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && !errors.Is(err, gitops.ErrServerFailing) {
		err = fmt.Errorf("%s step: %w after %s waiting for %s (raise the step timeout, or check the host): %w", name, ErrStepTimeout, time.Since(t).Round(time.Millisecond), x.r.host(name), err)
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
func (x *run) record(s Step) { progress.New(&x.res.Steps, x.r.Progress).Record(s) }

// Run releases the plan's tag. On ErrSuperseded from the commit step the artifact push
// is skipped (unless PushSuperseded) and Run returns the result with Superseded set and
// a nil error: a newer release already owns the branch.
func (r *Release) Run(ctx context.Context) (res Result, err error) {
	start := time.Now()
	p := r.Plan
	res = Result{Tag: p.Tag, Plan: &p}
	x := &run{r: r, res: &res, ctx: ctx, dir: p.ManifestsPath}
	defer func() {
		// The clone only serves the artifact push; the result keeps the commit, not the folder.
		if res.Commit != nil && res.Commit.Dir != "" {
			os.RemoveAll(res.Commit.Dir)
			res.Commit.Dir = ""
		}
		res.Duration = time.Since(start)
	}()
	if done, err := x.validate(); done || err != nil {
		return res, err
	}
	for _, s := range r.steps() {
		if s.step == nil {
			continue
		}
		if x.done {
			// Superseded: the artifact is not pushed, and nothing after it runs.
			if s.name == StepArtifact {
				x.record(Step{Name: StepArtifact, Status: StatusSkipped, Detail: "superseded by " + res.Commit.Old})
			}
			continue
		}
		if err := x.step(s.name, func(ctx context.Context) (Status, string, error) { return s.run(x, ctx) }); err != nil {
			return res, err
		}
	}
	return res, nil
}

// validate runs every step's Validate, in order, before anything runs: the branch, its
// variables file, the credentials, a newer tag already there. done: the release is
// superseded (x.res says so) and ends without error.
func (x *run) validate() (done bool, err error) {
	r, p := x.r, x.r.Plan
	writesBefore := false // a step before this one writes (builds, pushes)
	for _, s := range r.steps() {
		v, ok := s.step.(Validator)
		if ro, _ := s.step.(ReadOnly); s.step != nil && !ok && (ro == nil || !ro.WritesNothing()) {
			writesBefore = true
		}
		if !ok || s.step == nil {
			continue
		}
		// The commit checks the branch itself: checking it first only pays when
		// something would be written before it (a second clone of the branch otherwise).
		if s.name == StepCommit && !writesBefore && !x.rehearsal {
			continue
		}
		t := time.Now()
		err := x.bounded(s.name, func(ctx context.Context) error { return v.Validate(ctx, p.Tag) })
		if errors.Is(err, gitops.ErrSuperseded) && !r.PushSuperseded {
			*x.res = r.superseded(x)
			return true, nil
		}
		if err != nil && !errors.Is(err, gitops.ErrSuperseded) {
			x.record(Step{Name: s.name, Status: StatusFailed, Detail: "checked before anything ran", Duration: time.Since(t)})
			if errors.Is(err, ErrStepTimeout) {
				return false, err
			}
			return false, fmt.Errorf("%s step: %w", s.name, err)
		}
	}
	return false, nil
}

// Rehearse is a dry run that proves: every step's check runs, and the proof when it
// comes first (a rollback's, which writes nothing); the other steps are listed as
// planned. Nothing is tagged, committed or pushed.
func (r *Release) Rehearse(ctx context.Context) (res Result, err error) {
	start := time.Now()
	p := r.Plan
	res = Result{Tag: p.Tag, Plan: &p}
	defer func() { res.Duration = time.Since(start) }()
	x := &run{r: r, res: &res, ctx: ctx, dir: p.ManifestsPath, rehearsal: true}
	if done, err := x.validate(); done || err != nil {
		return res, err
	}
	for _, s := range r.steps() {
		if s.step == nil {
			continue
		}
		if s.name == StepPreflight && r.ProveFirst {
			if err := x.step(s.name, func(ctx context.Context) (Status, string, error) { return s.run(x, ctx) }); err != nil {
				return res, err
			}
			continue
		}
		if d, ok := s.step.(Describer); ok {
			x.record(Step{Name: s.name, Status: StatusPlanned, Detail: d.Describe(p.Tag)})
		}
	}
	return res, nil
}

func (x *run) images(ctx context.Context) (Status, string, error) {
	img, err := x.r.Images.PublishImages(ctx, x.r.Plan.Tag)
	if err != nil {
		return "", "", err
	}
	x.res.Images = &img
	if ri, ok := x.r.Images.(*RollbackImages); ok {
		return StatusDone, fmt.Sprintf("%s@%s, %s@%s (%s's images, tagged in the registry: nothing built or uploaded)", img.Service.Ref, img.Service.Digest, img.Migration.Ref, img.Migration.Digest, ri.Rollback.found.Target), nil
	}
	return StatusDone, imagesDetail(img), nil
}

// imagesDetail names both images and, when this process pushed them, the migration
// image's layer traffic (0: it reused the service's layers).
func imagesDetail(img image.Result) string {
	traffic := fmt.Sprintf("migration layers uploaded: %d", img.Migration.LayersUploaded)
	if img.Migration.Uncounted {
		traffic = "layer traffic not counted: pushed by another pusher"
	}
	return fmt.Sprintf("%s@%s, %s@%s (%s)", img.Service.Ref, img.Service.Digest, img.Migration.Ref, img.Migration.Digest, traffic)
}

func (x *run) preflight(ctx context.Context) (Status, string, error) {
	r, tag := x.r, x.r.Plan.Tag
	pr, err := r.Preflight.Preflight(ctx, tag)
	x.res.Preflight = &pr
	if rb, ok := r.Preflight.(*Rollback); ok {
		x.res.Rollback = rb.Found()
		if err != nil {
			return "", proofDetail(pr), err
		}
		return StatusDone, fmt.Sprintf("%s proved on the live schema of %s (%s)", rb.Found().Target, rb.Found().Live, proofDetail(pr)), nil
	}
	if err != nil {
		detail := proofDetail(pr)
		if r.Committer == nil && r.Artifacts == nil {
			return "", detail, fmt.Errorf("pre-flight of %s: %w", tag, err)
		}
		pushed := "no image was pushed"
		if img := x.res.Images; img != nil {
			pushed = "the images " + img.Service.Ref + " and " + img.Migration.Ref + " are pushed"
		}
		return "", detail + "; nothing committed", fmt.Errorf("pre-flight of %s: %w (nothing committed, no artifact pushed; %s)", tag, err, pushed)
	}
	return StatusDone, proofDetail(pr), nil
}

// proofDetail sums up a pre-flight's phases.
func proofDetail(pr preflight.Result) string {
	if n := len(pr.Phases); n > 0 && pr.Phases[n-1].Status == preflight.StatusFailed {
		return "failed in phase " + pr.Phases[n-1].Name
	}
	if len(pr.Phases) == 0 {
		return "could not start"
	}
	passed := 0
	for _, ph := range pr.Phases {
		if ph.Status == preflight.StatusPassed {
			passed++
		}
	}
	return fmt.Sprintf("%d of %d phases passed, %d skipped", passed, len(pr.Phases), len(pr.Phases)-passed)
}

func (x *run) commit(ctx context.Context) (Status, string, error) {
	r, p := x.r, x.r.Plan
	c, err := r.Committer.Commit(ctx, p.Tag)
	x.res.Commit = &c
	status, detail := StatusDone, fmt.Sprintf("%s %s -> %s on %s", short(c.Commit), c.Old, c.New, c.Branch)
	switch {
	case errors.Is(err, gitops.ErrSuperseded):
		x.res.Superseded = true
		status, detail = StatusSkipped, fmt.Sprintf("branch holds newer %s", c.Old)
	case errors.Is(err, gitops.ErrNothingToCommit):
		status, detail = StatusUnchanged, c.Branch+" already at "+p.Tag+" ("+short(c.Commit)+")"
	case err != nil:
		return "", "", err
	}
	x.dir = filepath.Join(c.Dir, x.dir)
	x.revision = artifact.Revision(c.Branch, c.Commit)
	if x.res.Superseded && !r.PushSuperseded {
		// A newer release owns the branch: nothing is shipped, the cluster stays on it.
		x.done = true
	} else if x.res.Superseded {
		// PushSuperseded: ship this release's tag on top of the branch head, uncommitted.
		file := filepath.Join(c.Dir, filepath.FromSlash(p.VariablesFile))
		if _, err := variables.SetFile(file, p.Tag, variables.WithRoot(c.Dir), variables.Scratch()); err != nil {
			return "", "", fmt.Errorf("setting %s in %s for the artifact of a superseded release: %w", p.Tag, p.VariablesFile, err)
		}
	}
	return status, detail, nil
}

func (x *run) artifact(ctx context.Context) (Status, string, error) {
	tag, res := x.r.Plan.Tag, x.res
	a, err := x.r.Artifacts.PushArtifact(ctx, x.dir, tag, x.revision)
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
}

func (x *run) reconcile(ctx context.Context) (Status, string, error) {
	rec, err := x.r.Reconciler.Reconcile(ctx)
	x.res.Reconciled = rec
	var objs []string
	for _, o := range rec {
		objs = append(objs, o.Object+" at "+o.Revision)
	}
	return StatusDone, strings.Join(objs, ", "), err
}

func (x *run) watch(ctx context.Context) (Status, string, error) {
	if x.res.Superseded {
		// The cluster follows the newest tag: a superseded release never rolls out.
		return StatusSkipped, "superseded: the cluster stays on the newer " + x.res.Commit.Old, nil
	}
	ro, err := x.r.Watcher.Watch(ctx, x.r.Plan.Tag)
	x.res.Rollout = &ro
	if err != nil {
		return "", ro.Job.Reason, err
	}
	return StatusDone, fmt.Sprintf("%s complete, %s %d/%d available", ro.Job.Name, ro.Deployment, ro.Available, ro.Replicas), nil
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
