package gitops_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tandem-ci/tandem/internal/testgit"
	"github.com/tandem-ci/tandem/pkg/gitops"
	"github.com/tandem-ci/tandem/pkg/tag"
	"github.com/tandem-ci/tandem/pkg/variables"
)

const token = "glpat-SECRET-token-123"

var seedFiles = map[string]string{
	"k8s/deployment-variables.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deployment-variables\ndata:\n  IMAGE_TAG: \"v1.0.0\" # set by CI\n",
	"README.md":                     "shop\n",
}

func cfg(s *testgit.Server, t string) gitops.Config {
	return gitops.Config{URL: s.RepoURL, Branch: "main", Username: "ci", Password: token, Tag: t, App: "shop", SkipCIPush: true}
}

func TestBumpCommitsAndPushes(t *testing.T) {
	s := testgit.New(t, "ci", token, seedFiles)
	c := cfg(s, "v1.42.0")
	c.Dir = filepath.Join(t.TempDir(), "clone")
	res, err := gitops.Bump(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if res.Old != "v1.0.0" || res.New != "v1.42.0" || res.Attempts != 1 || len(res.Commit) != 40 {
		t.Errorf("result = %+v", res)
	}
	if head := s.Git(t, "rev-parse", "main"); head != res.Commit {
		t.Errorf("server main = %s, Bump reported %s", head, res.Commit)
	}
	if msg := s.Git(t, "log", "-1", "--format=%s|%an", "main"); msg != "ci: update shop image tag to v1.42.0 [skip ci]|tandem" {
		t.Errorf("commit = %q", msg)
	}
	content := s.Git(t, "show", "main:k8s/deployment-variables.yaml")
	if !strings.Contains(content, `IMAGE_TAG: "v1.42.0" # set by CI`) {
		t.Errorf("file on main:\n%s", content)
	}
	// go-git always encodes options as key=value; GitLab reads "ci.skip=" as ci.skip.
	if opts := s.PushOptions(); len(opts) != 1 || opts[0] != "ci.skip=" {
		t.Errorf("push options received = %v, want [ci.skip=]", opts)
	}
	// The token is nowhere in the clone's config.
	b, _ := os.ReadFile(filepath.Join(c.Dir, ".git", "config"))
	if strings.Contains(string(b), token) || !strings.Contains(string(b), s.RepoURL) {
		t.Errorf(".git/config leaks the token or lacks the remote:\n%s", b)
	}

	// Same tag again: no empty commit.
	again, err := gitops.Bump(context.Background(), cfg(s, "v1.42.0"))
	if !errors.Is(err, gitops.ErrNothingToCommit) || again.Commit != res.Commit {
		t.Errorf("same tag = %+v, %v; want ErrNothingToCommit at %s", again, err, res.Commit)
	}
	// Older tag: refused.
	if _, err := gitops.Bump(context.Background(), cfg(s, "v1.41.0")); !errors.Is(err, gitops.ErrSuperseded) {
		t.Errorf("older tag = %v, want ErrSuperseded", err)
	}
	if n := s.Git(t, "rev-list", "--count", "main"); n != "2" {
		t.Errorf("main has %s commits, want 2", n)
	}
}

func TestBumpCredentialsInURL(t *testing.T) {
	s := testgit.New(t, "ci", token, seedFiles)
	c := cfg(s, "v1.5.0")
	c.Username, c.Password = "", ""
	c.URL = strings.Replace(s.RepoURL, "http://", "http://ci:"+token+"@", 1)
	res, err := gitops.Bump(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(res.URL, token) {
		t.Errorf("result URL leaks the token: %s", res.URL)
	}
}

func TestBumpErrors(t *testing.T) {
	s := testgit.New(t, "ci", token, seedFiles)
	noFile := testgit.New(t, "", "", map[string]string{"README.md": "x\n"})
	keep := t.TempDir()
	os.WriteFile(filepath.Join(keep, "precious.txt"), []byte("mine"), 0o644)
	outside := t.TempDir() // holds x/deployment-variables.yaml, which no bump may touch
	vars := filepath.Join(outside, "x", "deployment-variables.yaml")
	os.MkdirAll(filepath.Dir(vars), 0o755)
	os.WriteFile(vars, []byte(seedFiles["k8s/deployment-variables.yaml"]), 0o644)
	tests := []struct {
		name    string
		mutate  func(*gitops.Config)
		wantErr string
		is      error
	}{
		{"wrong token", func(c *gitops.Config) { c.Password = "wrong-" + token }, "git authentication failed", gitops.ErrAuth},
		{"no token", func(c *gitops.Config) { c.Password = "" }, "no token was given: set TANDEM_GIT_TOKEN", gitops.ErrAuth},
		{"branch missing", func(c *gitops.Config) { c.Branch = "release" }, "branch not found", gitops.ErrBranchNotFound},
		{"invalid tag", func(c *gitops.Config) { c.Tag = "V1_0" }, "must be lowercase", tag.ErrInvalid},
		{"no branch", func(c *gitops.Config) { c.Branch = "" }, "branch: required", nil},
		{"bad url", func(c *gitops.Config) { c.URL = "not a url" }, "want https://host/group/project.git", nil},
		{"unreachable", func(c *gitops.Config) { c.URL = "http://127.0.0.1:1/repo.git" }, "connection refused", nil},
		{"k8s missing", func(c *gitops.Config) { c.URL, c.Password = noFile.RepoURL, "" }, "no such file or directory", nil},
		{"file missing", func(c *gitops.Config) { c.File = "deploy/vars.yaml" }, "deploy/vars.yaml: no such file", nil},
		{"bad template", func(c *gitops.Config) { c.Message = "{{.Nope" }, "parsing commit message template", nil},
		{"non-empty clone folder", func(c *gitops.Config) { c.Dir = keep }, "folder is not empty", nil},
		{"file outside the clone", func(c *gitops.Config) {
			c.Dir, c.File = filepath.Join(outside, "clone"), "../x/deployment-variables.yaml"
		}, "path leaves the repository", gitops.ErrOutsideRepository},
		{"absolute file", func(c *gitops.Config) { c.File = filepath.Join(outside, "x", "deployment-variables.yaml") }, "path leaves the repository", gitops.ErrOutsideRepository},
	}
	before := s.Git(t, "rev-parse", "main")
	for _, tt := range tests {

		t.Run(tt.name, func(t *testing.T) {
			c := cfg(s, "v1.9.0")
			tt.mutate(&c)
			_, err := gitops.Bump(context.Background(), c)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Bump = %v, want error containing %q", err, tt.wantErr)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("%v is not %v", err, tt.is)
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("error leaks the token: %v", err)
			}
		})
	}
	if after := s.Git(t, "rev-parse", "main"); after != before {
		t.Errorf("a failing bump moved main")
	}
	if b, err := os.ReadFile(filepath.Join(keep, "precious.txt")); err != nil || string(b) != "mine" {
		t.Errorf("a bump into a non-empty folder touched it: %v", err)
	}
	if b, _ := os.ReadFile(vars); string(b) != seedFiles["k8s/deployment-variables.yaml"] {
		t.Errorf("a bump rewrote a file outside the clone:\n%s", b)
	}
}

// TestGuardOrdersTags: the monotonic guard never lets a tag it cannot order replace a
// semantic version (v1.50.0 -> abcdef12 -> v1.2.0 moved the branch backwards before).
func TestGuardOrdersTags(t *testing.T) {
	s := testgit.New(t, "ci", token, seedFiles)
	steps := []struct {
		tag string
		is  error
	}{
		{"v1.50.0", nil},
		{"abcdef12", gitops.ErrUnordered},
		{"v1.2.0", gitops.ErrSuperseded},
		{"v1.51.0", nil},
	}
	for _, st := range steps {
		_, err := gitops.Bump(context.Background(), cfg(s, st.tag))
		if st.is == nil && err != nil || st.is != nil && !errors.Is(err, st.is) {
			t.Errorf("bump to %s = %v, want %v", st.tag, err, st.is)
		}
	}
	if got := s.Git(t, "show", "main:k8s/deployment-variables.yaml"); !strings.Contains(got, `"v1.51.0"`) {
		t.Errorf("main holds:\n%s", got)
	}
	// Between tags that are not semantic versions there is no order: the newest release wins.
	other := testgit.New(t, "ci", token, map[string]string{"k8s/deployment-variables.yaml": strings.Replace(seedFiles["k8s/deployment-variables.yaml"], "v1.0.0", "abcdef12", 1)})
	if _, err := gitops.Bump(context.Background(), cfg(other, "0123abcd")); err != nil {
		t.Errorf("sha tag over sha tag: %v", err)
	}
}

// TestBumpSymlinkedFolderOutside: a branch whose k8s/ is a symlink leading out of the
// clone is refused; the file it points at is untouched.
func TestBumpSymlinkedFolderOutside(t *testing.T) {
	s := testgit.New(t, "ci", token, map[string]string{"README.md": "x\n"})
	outside := t.TempDir()
	vars := filepath.Join(outside, "deployment-variables.yaml")
	os.WriteFile(vars, []byte(seedFiles["k8s/deployment-variables.yaml"]), 0o644)
	work := t.TempDir()
	for _, args := range [][]string{{"clone", "-q", s.Bare, work}, {"-C", work, "checkout", "-q", "main"}} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	c := cfg(s, "v1.9.0")
	c.Dir = filepath.Join(t.TempDir(), "clone")
	rel, _ := filepath.Rel(c.Dir, outside) // go-git confines absolute links; a relative one can leave
	if err := os.Symlink(rel, filepath.Join(work, "k8s")); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"add", "k8s"}, {"-c", "user.name=t", "-c", "user.email=t@x", "commit", "-q", "-m", "link"}, {"push", "-q", "origin", "main"}} {
		if out, err := exec.Command("git", append([]string{"-C", work}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	_, err := gitops.Bump(context.Background(), c)
	if !errors.Is(err, variables.ErrOutsideRoot) {
		t.Errorf("Bump through a symlinked folder = %v, want ErrOutsideRoot", err)
	}
	if b, _ := os.ReadFile(vars); string(b) != seedFiles["k8s/deployment-variables.yaml"] {
		t.Errorf("the bump rewrote the file outside the clone:\n%s", b)
	}
}

// TestConcurrentReleases races 20 releases v1.1.0…v1.20.0 in random order against one
// branch: only ErrSuperseded may fail them, the newest tag wins, and the tag history on
// the branch only ever moves forward.
func TestConcurrentReleases(t *testing.T) {
	s := testgit.New(t, "ci", token, seedFiles)
	order := rand.Perm(20)
	var wg sync.WaitGroup
	errs := make([]error, 20)
	results := make([]gitops.Result, 20)
	for i, n := range order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := cfg(s, fmt.Sprintf("v1.%d.0", n+1))
			c.MaxAttempts = 60
			results[i], errs[i] = gitops.Bump(context.Background(), c)
			os.RemoveAll(results[i].Dir)
		}()
	}
	wg.Wait()
	committed, superseded, attempts := 0, 0, 0
	for i, err := range errs {
		attempts += results[i].Attempts
		switch {
		case err == nil:
			committed++
		case errors.Is(err, gitops.ErrSuperseded):
			superseded++
		default:
			t.Errorf("release %s: %v", results[i].New, err)
		}
	}
	final := s.Git(t, "show", "main:k8s/deployment-variables.yaml")
	if v, err := variables.Find([]byte(final)); err != nil || v != "v1.20.0" {
		t.Errorf("final IMAGE_TAG = %q (%v), want v1.20.0", v, err)
	}
	// Walk the history oldest first: tags strictly increase, one commit per success.
	log := s.Git(t, "log", "--reverse", "--format=%H", "main")
	commits := strings.Fields(log)
	if len(commits) != committed+1 {
		t.Errorf("main has %d commits, want %d (seed + each successful release)", len(commits), committed+1)
	}
	for i, err := range errs {
		if err == nil && !slices.Contains(commits, results[i].Commit) {
			t.Errorf("release %s reported commit %s, which is not on main: lost", results[i].New, results[i].Commit)
		}
	}
	prev := ""
	for _, c := range commits {
		v, _ := variables.Find([]byte(s.Git(t, "show", c+":k8s/deployment-variables.yaml")))
		if prev != "" {
			if cmp, err := tag.Compare(prev, v); err != nil || cmp >= 0 {
				t.Errorf("history moved backwards or stood still: %s then %s", prev, v)
			}
		}
		prev = v
	}
	t.Logf("20 concurrent releases: %d committed, %d superseded, %d clone+push attempts", committed, superseded, attempts)
}

func TestFromCheckout(t *testing.T) {
	s := testgit.New(t, "", "", seedFiles)
	dir := t.TempDir()
	withCreds := strings.Replace(s.RepoURL, "http://", "http://gitlab-ci-token:"+token+"@", 1)
	for _, args := range [][]string{{"clone", "-q", "--depth", "1", s.RepoURL, dir}, {"-C", dir, "remote", "set-url", "origin", withCreds}, {"-C", dir, "checkout", "-q", "--detach"}} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	if _, _, err := gitops.FromCheckout(dir, ""); !errors.Is(err, gitops.ErrDetached) {
		t.Errorf("detached without branch = %v, want ErrDetached", err)
	}
	u, br, err := gitops.FromCheckout(dir, "main")
	if err != nil || u != s.RepoURL || br != "main" {
		t.Errorf("FromCheckout = %q %q %v", u, br, err)
	}
	c := cfg(s, "v1.7.0")
	c.URL, c.Password = u, ""
	if _, err := gitops.Bump(context.Background(), c); err != nil {
		t.Errorf("bump from a detached shallow checkout's remote: %v", err)
	}
}

func TestStripCredentials(t *testing.T) {
	for raw, want := range map[string]string{
		"https://ci:glpat-x@gitlab.com/acme/shop.git": "https://gitlab.com/acme/shop.git",
		"https://gitlab.com/acme/shop.git":            "https://gitlab.com/acme/shop.git",
		"git@gitlab.com:acme/shop.git":                "gitlab.com:acme/shop.git",
		"ci:glpat-x@gitlab.com:acme/shop.git":         "gitlab.com:acme/shop.git",
		"":                                            "",
	} {
		if got := gitops.StripCredentials(raw); got != want {
			t.Errorf("StripCredentials(%q) = %q, want %q", raw, got, want)
		}
	}
}

// TestBumpChecksOutOnlyWhatItNeeds: the clone holds the variables file's folder (and
// Folders), not the whole repository, yet the commit keeps every other file.
func TestBumpChecksOutOnlyWhatItNeeds(t *testing.T) {
	files := map[string]string{"src/a.txt": "a\n", "docs/b.txt": "b\n", "deploy/k8s/kustomization.yaml": "resources: []\n",
		"k8s/deployment-variables.yaml": seedFiles["k8s/deployment-variables.yaml"]}
	s := testgit.New(t, "ci", token, files)
	c := cfg(s, "v1.42.0")
	c.Dir = filepath.Join(t.TempDir(), "clone")
	c.Folders = []string{"deploy/k8s"}
	if _, err := gitops.Bump(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string]bool{"k8s/deployment-variables.yaml": true, "deploy/k8s/kustomization.yaml": true, "src/a.txt": false, "docs/b.txt": false} {
		if _, err := os.Stat(filepath.Join(c.Dir, f)); (err == nil) != want {
			t.Errorf("clone holds %s: %v, want %v", f, err == nil, want)
		}
	}
	if got := strings.Fields(s.Git(t, "ls-tree", "-r", "--name-only", "main")); len(got) != 4 {
		t.Errorf("files on main after the bump: %v, want all 4", got)
	}
	if !strings.Contains(s.Git(t, "show", "main:k8s/deployment-variables.yaml"), "v1.42.0") {
		t.Error("the bump did not land")
	}
}

// TestBumpCommitsOnlyTheFile: the commit is made from objects (no index of the tree), so
// it must still be a commit git itself finds sound, change only the file (followed through
// a link), and keep every other entry's mode; the folders it writes keep modes and links.
func TestBumpCommitsOnlyTheFile(t *testing.T) {
	s := testgit.New(t, "ci", token, map[string]string{"README.md": "x\n", "src/a.txt": "a\n",
		"config/vars.yaml":              seedFiles["k8s/deployment-variables.yaml"],
		"deploy/k8s/kustomization.yaml": "resources: [cm.yaml]\n", "deploy/k8s/cm.yaml": "kind: ConfigMap\n"})
	work := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("git", append([]string{"-C", work}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	if out, err := exec.Command("git", "clone", "-q", "-b", "main", s.Bare, work).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	os.MkdirAll(filepath.Join(work, "k8s"), 0o755)
	os.WriteFile(filepath.Join(work, "deploy/k8s/hook.sh"), []byte("#!/bin/sh\n"), 0o755)
	for link, target := range map[string]string{"k8s/deployment-variables.yaml": "../config/vars.yaml", "deploy/k8s/again.yaml": "cm.yaml", "deploy/k8s/abs": "/etc/passwd"} {
		if err := os.Symlink(target, filepath.Join(work, link)); err != nil {
			t.Fatal(err)
		}
	}
	git("add", "-A")
	git("-c", "user.name=t", "-c", "user.email=t@x", "commit", "-q", "-m", "layout")
	git("push", "-q", "origin", "main")

	c := cfg(s, "v1.42.0")
	c.Dir = filepath.Join(t.TempDir(), "clone")
	c.Folders = []string{"deploy", "deploy/k8s", "k8s", "config", "deploy"} // repeated and nested
	if _, err := gitops.Bump(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	s.Git(t, "fsck", "--strict", "--no-dangling")
	if got := s.Git(t, "diff", "--name-status", "main~1", "main"); got != "M\tconfig/vars.yaml" {
		t.Errorf("the bump changed:\n%s\nwant only config/vars.yaml (the link's target)", got)
	}
	if got, want := strings.Fields(s.Git(t, "ls-tree", "-r", "main")), strings.Fields(s.Git(t, "ls-tree", "-r", "main~1")); len(got) != len(want) {
		t.Errorf("ls-tree after:\n%v\nbefore:\n%v", got, want)
	}
	if !strings.Contains(s.Git(t, "show", "main:config/vars.yaml"), `IMAGE_TAG: "v1.42.0" # set by CI`) {
		t.Error("the bump did not land in the link's target")
	}
	if fi, err := os.Stat(filepath.Join(c.Dir, "deploy/k8s/hook.sh")); err != nil || fi.Mode().Perm()&0o100 == 0 {
		t.Errorf("hook.sh in the clone: %v, %v; want executable", fi, err)
	}
	if l, err := os.Readlink(filepath.Join(c.Dir, "deploy/k8s/again.yaml")); err != nil || l != "cm.yaml" {
		t.Errorf("again.yaml in the clone links to %q (%v), want cm.yaml", l, err)
	}
	// An absolute link stays inside the clone, as go-git's own checkout confines it.
	if l, _ := os.Readlink(filepath.Join(c.Dir, "deploy/k8s/abs")); filepath.IsAbs(l) || !strings.HasPrefix(filepath.Join(c.Dir, "deploy/k8s", l), c.Dir) {
		t.Errorf("abs links to %q: leaves the clone", l)
	}
	if _, err := os.Stat(filepath.Join(c.Dir, "src")); err == nil {
		t.Error("src/ was written; only the folders the release reads are")
	}
}

// TestBumpBranchMovedAfterClone: the branch moves between the clone and the push (here,
// while the check runs). The push is refused before anything is sent, the bump retries
// on a fresh clone, and the other commit stays on the branch under the bump's.
func TestBumpBranchMovedAfterClone(t *testing.T) {
	s := testgit.New(t, "ci", token, seedFiles)
	work := t.TempDir()
	if out, err := exec.Command("git", "clone", "-q", "-b", "main", s.Bare, work).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	c := cfg(s, "v1.42.0")
	checks := 0
	c.Check = func(ctx context.Context, clone string) error {
		if checks++; checks == 1 {
			os.WriteFile(filepath.Join(work, "README.md"), []byte("moved\n"), 0o644)
			for _, args := range [][]string{{"-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qam", "someone else"}, {"push", "-q", "origin", "main"}} {
				if out, err := exec.Command("git", append([]string{"-C", work}, args...)...).CombinedOutput(); err != nil {
					return fmt.Errorf("git %v: %v: %s", args, err, out)
				}
			}
		}
		return nil
	}
	res, err := gitops.Bump(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if res.Attempts != 2 || checks != 2 {
		t.Errorf("attempts = %d, checks = %d; want 2 each (the first push refused, the second on a fresh clone)", res.Attempts, checks)
	}
	if got := s.Git(t, "log", "--format=%s", "main"); !strings.HasPrefix(got, "ci: update shop image tag to v1.42.0 [skip ci]\nsomeone else\n") {
		t.Errorf("main's history:\n%s", got)
	}
	if got := s.Git(t, "show", "main:README.md"); got != "moved" {
		t.Errorf("README.md on main = %q: the other commit was lost", got)
	}
}
