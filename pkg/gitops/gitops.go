package gitops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"runtime/trace"
	"strings"
	"text/template"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/tandem-ci/tandem/internal/errmsg"
	"github.com/tandem-ci/tandem/pkg/tag"
	"github.com/tandem-ci/tandem/pkg/variables"
)

// DefaultMessage is the commit message template; [skip ci] stops GitLab from starting a
// pipeline for the bump commit.
const DefaultMessage = "ci: update {{.App}} image tag to {{.Tag}} [skip ci]"

var (
	// ErrSuperseded is returned when the branch already holds a newer tag: the release
	// must not overwrite it.
	ErrSuperseded = errors.New("branch already holds a newer tag")
	// ErrUnordered is returned when the branch holds a semantic-version tag and the new
	// tag is not one: the two cannot be ordered, so the guard refuses.
	ErrUnordered = errors.New("tags cannot be ordered")
	// ErrNothingToCommit is returned when the branch already holds this tag; no empty
	// commit is made and Result.Commit is the branch head.
	ErrNothingToCommit = errors.New("tag already committed")
	// ErrBranchNotFound is returned when the branch does not exist on the remote.
	ErrBranchNotFound = errors.New("branch not found")
	// ErrOutsideRepository is returned when the file to bump is not inside the clone.
	ErrOutsideRepository = errors.New("path leaves the repository")
	// ErrAuth is returned when the git server refuses the credentials.
	ErrAuth = errors.New("git authentication failed")
)

// Config says what to commit where.
type Config struct {
	URL         string // https://host/group/project.git; credentials in it are moved to Username/Password
	Branch      string
	Username    string // default "tandem" when only a token is given
	Password    string // token or password
	File        string // path inside the repository; default k8s/deployment-variables.yaml
	Tag         string
	App         string
	Message     string // template over .App .Tag .Old; default DefaultMessage
	AuthorName  string
	AuthorEmail string
	SkipCIPush  bool   // also send the push option ci.skip
	MaxAttempts int    // pushes tried on concurrent updates; default 10
	Dir         string // where to clone: new or empty (default: a new temporary folder)
	// Check, when set, runs on the clone after IMAGE_TAG is set and before the commit;
	// an error stops the bump with nothing committed or pushed.
	Check func(ctx context.Context, clone string) error
	// Folders the clone must hold besides the file's own (e.g. the manifests folder the
	// Check builds and the artifact ships); the rest of the repository is not checked out.
	Folders []string
}

// Result describes the commit (or why there is none).
type Result struct {
	URL      string        `json:"url"` // without credentials
	Branch   string        `json:"branch"`
	Commit   string        `json:"commit"`
	Old      string        `json:"old"`
	New      string        `json:"new"`
	Attempts int           `json:"attempts"`
	Dir      string        `json:"dir"` // the clone, holding the committed files
	Duration time.Duration `json:"duration"`
}

// Bump clones cfg.Branch into cfg.Dir (a new temporary folder when empty; the caller
// removes it), sets IMAGE_TAG, commits and pushes. A push rejected because the branch
// moved is retried on a fresh clone, with jittered backoff, up to MaxAttempts.
func Bump(ctx context.Context, cfg Config) (Result, error) {
	return withRetries(ctx, cfg, once)
}

// Check clones cfg.Branch as Bump does and checks, committing nothing, what Bump would
// find: the credentials work, the branch exists, the file holds IMAGE_TAG, and cfg.Tag
// is not older than it (ErrSuperseded, ErrUnordered). A release calls it before
// building anything. The clone is removed; Result.Old and Result.Commit say what the
// branch holds.
func Check(ctx context.Context, cfg Config) (Result, error) {
	dir, err := os.MkdirTemp("", "tandem-gitops-check-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(dir)
	cfg.Dir = dir
	res, err := withRetries(ctx, cfg, func(ctx context.Context, cfg Config, auth transport.AuthMethod, res *Result) error {
		_, _, _, err := inspect(ctx, cfg, auth, res)
		return err
	})
	res.Dir = ""
	return res, err
}

// withRetries runs attempt on fresh clones in cfg.Dir until it succeeds, fails for good,
// or MaxAttempts is reached.
func withRetries(ctx context.Context, cfg Config, attempt func(context.Context, Config, transport.AuthMethod, *Result) error) (Result, error) {
	start := time.Now()
	cfg, auth, err := normalize(cfg)
	res := Result{URL: cfg.URL, Branch: cfg.Branch, New: cfg.Tag}
	if err == nil {
		err = tag.Validate(cfg.Tag)
	}
	if err != nil {
		return res, err
	}
	if cfg.Dir == "" {
		if cfg.Dir, err = os.MkdirTemp("", "tandem-gitops-"); err != nil {
			return res, err
		}
	} else if entries, err := os.ReadDir(cfg.Dir); err == nil && len(entries) > 0 {
		// Each attempt starts from a fresh clone and removes the previous one.
		return res, fmt.Errorf("cloning into %s: folder is not empty; pass an empty or new folder", cfg.Dir)
	}
	res.Dir = cfg.Dir
	for n := 1; ; n++ {
		res.Attempts = n
		err = attempt(ctx, cfg, auth, &res)
		if err == nil || !retryable(err) || n >= cfg.MaxAttempts {
			break
		}
		if werr := wait(ctx, n); werr != nil {
			// The deadline passed between attempts: say what kept failing.
			err = fmt.Errorf("%w after %d attempts, the last: %w", werr, n, err)
			break
		}
	}
	res.Duration = time.Since(start)
	if err != nil && retryable(err) {
		why := "branch kept moving"
		if errors.Is(err, ErrServerFailing) {
			why = "the server kept failing"
		}
		return res, fmt.Errorf("pushing to %s %s: %s, gave up after %d attempts: %w", cfg.URL, cfg.Branch, why, res.Attempts, err)
	}
	return res, err
}

// inspect clones the branch into cfg.Dir (sparse) and reads IMAGE_TAG: res.Old and
// res.Commit are set; ErrSuperseded and ErrUnordered when cfg.Tag may not replace it.
func inspect(ctx context.Context, cfg Config, auth transport.AuthMethod, res *Result) (*git.Repository, *object.Commit, string, error) {
	repo, head, err := clone(ctx, cfg, auth, 1)
	if err != nil {
		return nil, nil, "", err
	}
	path := filepath.Join(cfg.Dir, filepath.FromSlash(cfg.File))
	res.Commit = head.Hash.String()
	if _, err := variables.Resolve(path, cfg.Dir); err != nil {
		return nil, nil, "", fmt.Errorf("branch %s of %s: %w", cfg.Branch, cfg.URL, InRepository(err, cfg.Dir))
	}
	current, err := variables.ReadFile(path)
	if err != nil {
		return nil, nil, "", fmt.Errorf("branch %s of %s: %w", cfg.Branch, cfg.URL, InRepository(err, cfg.Dir))
	}
	res.Old = current
	switch c, err := tag.Compare(current, cfg.Tag); {
	case err == nil && c > 0:
		return nil, nil, "", fmt.Errorf("%s holds %s, newer than %s: %w", cfg.File, current, cfg.Tag, ErrSuperseded)
	case err != nil && tag.IsSemver(current):
		// Tags are ordered as semantic versions. Replacing one with a tag that is not
		// could move the branch backwards unnoticed (and Flux's ref.semver would never
		// pick the new artifact), so it is refused; between two non-semver tags there is
		// no order and the newest release wins.
		return nil, nil, "", fmt.Errorf("%s holds %s, a semantic version; %s is not one, so no one can tell which is newer: %w: release with a semantic-version tag (an explicit one, or a pipeline ID with the default format), or set the file by hand to switch schemes", cfg.File, current, cfg.Tag, ErrUnordered)
	}
	return repo, head, path, nil
}

// clone clones the last depth commits of cfg.Branch into cfg.Dir (removed first) and
// writes only the folders the release reads (sparseDirs). There is no index and no
// worktree status: the commit is made from objects (commitFile), so the cost of a
// release does not grow with the number of files in the repository.
func clone(ctx context.Context, cfg Config, auth transport.AuthMethod, depth int) (*git.Repository, *object.Commit, error) {
	if err := os.RemoveAll(cfg.Dir); err != nil {
		return nil, nil, err
	}
	branch := plumbing.NewBranchReferenceName(cfg.Branch)
	repo, err := git.PlainCloneContext(ctx, cfg.Dir, false, &git.CloneOptions{
		URL: cfg.URL, Auth: auth, ReferenceName: branch,
		SingleBranch: true, Depth: depth, Tags: git.NoTags, NoCheckout: true,
	})
	if err != nil {
		return nil, nil, classify(fmt.Sprintf("cloning %s branch %s", cfg.URL, cfg.Branch), cfg, err)
	}
	ref, err := repo.Head()
	if err != nil {
		return nil, nil, fmt.Errorf("reading head of %s: %w", cfg.Branch, err)
	}
	head, err := repo.CommitObject(ref.Hash())
	if err != nil {
		return nil, nil, fmt.Errorf("reading head of %s: %w", cfg.Branch, err)
	}
	if err := writeFolders(head, sparseDirs(cfg), cfg.Dir); err != nil {
		return nil, nil, fmt.Errorf("checking out %s: %w", cfg.Branch, err)
	}
	return repo, head, nil
}

func once(ctx context.Context, cfg Config, auth transport.AuthMethod, res *Result) error {
	region := trace.StartRegion(ctx, "git clone")
	repo, head, path, err := inspect(ctx, cfg, auth, res)
	region.End()
	if err != nil {
		return err
	}
	// The push's first request (the server's refs) goes out now, beside the edit, the
	// check and the commit.
	actx, cancel := context.WithCancel(ctx)
	adv := advertise(actx, cfg, auth)
	defer adv.close()
	defer cancel()
	current := res.Old
	msg, err := message(cfg, current)
	if err != nil {
		return err
	}
	_, err = variables.SetFile(path, cfg.Tag, variables.WithRoot(cfg.Dir), variables.Scratch())
	unchanged := errors.Is(err, variables.ErrUnchanged)
	if err != nil && !unchanged {
		return err
	}
	if cfg.Check != nil {
		region := trace.StartRegion(ctx, "check before commit")
		err := cfg.Check(ctx, cfg.Dir)
		region.End()
		if err != nil {
			return fmt.Errorf("branch %s with IMAGE_TAG=%s, before committing: %w", cfg.Branch, cfg.Tag, InRepository(err, cfg.Dir))
		}
	}
	if unchanged {
		return fmt.Errorf("%s already holds %s: %w", cfg.File, cfg.Tag, ErrNothingToCommit)
	}
	sig := object.Signature{Name: cfg.AuthorName, Email: cfg.AuthorEmail, When: time.Now()}
	commit, objects, err := commitFile(repo, head, cfg.Dir, path, msg, sig)
	if err != nil {
		return fmt.Errorf("committing %s: %w", cfg.File, err)
	}
	if err := repo.Storer.SetReference(plumbing.NewHashReference(plumbing.NewBranchReferenceName(cfg.Branch), commit)); err != nil {
		return fmt.Errorf("committing %s: %w", cfg.File, err)
	}
	region = trace.StartRegion(ctx, "git push")
	err = push(ctx, repo, cfg, adv, head.Hash, commit, objects)
	region.End()
	if err != nil {
		return err
	}
	res.Commit = commit.String()
	return nil
}

// InRepository shows paths inside the temporary clone dir as paths of the repository
// (k8s/deployment.yaml, not /tmp/tandem-gitops-123/k8s/deployment.yaml); errors.Is
// still sees the original.
func InRepository(err error, dir string) error {
	return errmsg.Replace(err, func(msg string) string {
		for _, d := range []string{dir, evalSymlinks(dir)} {
			if d != "" {
				msg = strings.ReplaceAll(msg, d+string(filepath.Separator), "")
				msg = strings.ReplaceAll(msg, d, ".")
			}
		}
		return msg
	})
}

func evalSymlinks(p string) string {
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		return ""
	}
	return r
}

// errRejected marks a push the server refused because the branch moved.
var errRejected = errors.New("push rejected: branch moved")

// ErrServerFailing marks a failure of the connection or the server (reset, cut-off answer,
// 5xx): the next attempt, on a fresh clone, may well succeed.
var ErrServerFailing = errors.New("git server error")

func retryable(err error) bool {
	return errors.Is(err, errRejected) || errors.Is(err, ErrServerFailing)
}

// transient reports whether a go-git error message says the connection or the server
// failed, rather than the request being wrong.
func transient(msg string) bool {
	for _, s := range []string{"EOF", "connection reset", "broken pipe", "status code: 5", "502 Bad Gateway", "503 Service Unavailable", "504 Gateway Timeout", "500 Internal Server Error"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// classify turns go-git's errors into tandem's, and keeps secrets out of the message.
func classify(doing string, cfg Config, err error) error {
	msg := strings.TrimSpace(redact(err.Error(), cfg.Password))
	switch {
	case (errors.Is(err, transport.ErrAuthenticationRequired) || errors.Is(err, transport.ErrAuthorizationFailed)) && cfg.Password == "":
		return fmt.Errorf("%s: %w: no token was given: set TANDEM_GIT_TOKEN to a project or deploy token with write access (%s)", doing, ErrAuth, msg)
	case errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed):
		return fmt.Errorf("%s: %w: check the token's write access (%s)", doing, ErrAuth, msg)
	case errors.Is(err, plumbing.ErrReferenceNotFound), strings.Contains(msg, "couldn't find remote ref"):
		return fmt.Errorf("%s: %w: create branch %s, or release another branch", doing, ErrBranchNotFound, cfg.Branch)
	case errors.Is(err, git.ErrNonFastForwardUpdate), errors.Is(err, plumbing.ErrObjectNotFound),
		strings.Contains(msg, "non-fast-forward"), strings.Contains(msg, "fetch first"), strings.Contains(msg, "failed to update ref"), strings.Contains(msg, "cannot lock ref"):
		return fmt.Errorf("%s: %w (%s)", doing, errRejected, msg)
	case transient(msg):
		return fmt.Errorf("%s: %w: %s", doing, ErrServerFailing, msg)
	}
	return fmt.Errorf("%s: %s", doing, msg)
}

func redact(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, "***")
}

func wait(ctx context.Context, attempt int) error {
	d := min(100*time.Millisecond<<min(attempt, 5), 2*time.Second)
	d = d/2 + rand.N(d/2+1)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func message(cfg Config, old string) (string, error) {
	return RenderMessage(cfg.Message, cfg.App, cfg.Tag, old)
}

// RenderMessage renders a commit message template over .App .Tag .Old; a template that
// does not parse or names another field is an error (callers check it before pushing).
func RenderMessage(tmpl, app, tag, old string) (string, error) {
	t, err := template.New("message").Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return "", fmt.Errorf("parsing commit message template %q: %w", tmpl, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, map[string]string{"App": app, "Tag": tag, "Old": old}); err != nil {
		return "", fmt.Errorf("rendering commit message template %q: %w", tmpl, err)
	}
	return b.String(), nil
}

func normalize(cfg Config) (Config, transport.AuthMethod, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return cfg, nil, fmt.Errorf("repository URL %q: want https://host/group/project.git", StripCredentials(cfg.URL))
	}
	if u.User != nil {
		if cfg.Username == "" {
			cfg.Username = u.User.Username()
		}
		if p, ok := u.User.Password(); ok && cfg.Password == "" {
			cfg.Password = p
		}
		u.User = nil
		cfg.URL = u.String()
	}
	if cfg.Branch == "" {
		return cfg, nil, errors.New("branch: required")
	}
	if cfg.File == "" {
		cfg.File = variables.DefaultFile
	}
	if f := filepath.ToSlash(filepath.Clean(cfg.File)); filepath.IsAbs(cfg.File) || f == ".." || strings.HasPrefix(f, "../") {
		return cfg, nil, fmt.Errorf("file %q: %w: give a path inside the repository, e.g. %s", cfg.File, ErrOutsideRepository, variables.DefaultFile)
	}
	if cfg.Message == "" {
		cfg.Message = DefaultMessage
	}
	if cfg.App == "" {
		cfg.App = strings.TrimSuffix(filepath.Base(u.Path), ".git")
	}
	if cfg.AuthorName == "" {
		cfg.AuthorName = "tandem"
	}
	if cfg.AuthorEmail == "" {
		cfg.AuthorEmail = "tandem@localhost"
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 10
	}
	var auth transport.AuthMethod
	if cfg.Password != "" {
		if cfg.Username == "" {
			cfg.Username = "tandem"
		}
		auth = &githttp.BasicAuth{Username: cfg.Username, Password: cfg.Password}
	}
	return cfg, auth, nil
}

// StripCredentials removes user info from a URL for display. An scp-style address
// (user@host:path) keeps only host:path; anything else unparseable keeps what follows
// its last "@".
func StripCredentials(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Host == "" && strings.Contains(raw, "@")) {
		if i := strings.LastIndex(raw, "@"); i >= 0 {
			return raw[i+1:]
		}
		if err != nil {
			return "<unparseable URL>"
		}
	}
	u.User = nil
	return u.String()
}

// sparseDirs are the folders to check out: the variables file's and cfg.Folders.
func sparseDirs(cfg Config) []string {
	dirs := []string{path.Dir(filepath.ToSlash(filepath.Clean(cfg.File)))}
	for _, f := range cfg.Folders {
		dirs = append(dirs, filepath.ToSlash(filepath.Clean(f)))
	}
	for _, d := range dirs {
		if d == "." || d == "" {
			return nil // the repository root: check out everything
		}
	}
	return dirs
}
