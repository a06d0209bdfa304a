package gitops_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-ci/tandem/internal/testgit"
	"github.com/tandem-ci/tandem/pkg/gitops"
)

// pushCommit commits a change of README.md to main through a working clone.
func pushCommit(t *testing.T, s *testgit.Server, msg string) {
	t.Helper()
	work := t.TempDir()
	for _, args := range [][]string{{"clone", "-q", "-b", "main", s.Bare, work}} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	os.WriteFile(filepath.Join(work, "README.md"), []byte(msg+"\n"), 0o644)
	for _, args := range [][]string{{"-c", "user.name=dev", "-c", "user.email=dev@x", "commit", "-qam", msg}, {"push", "-q", "origin", "main"}} {
		if out, err := exec.Command("git", append([]string{"-C", work}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
}

// TestHistory: the releases of the branch are the values IMAGE_TAG took, newest first,
// each with the commit that set it; code commits between them belong to the release
// before; a shallow read says it is truncated.
func TestHistory(t *testing.T) {
	s := testgit.New(t, "ci", token, seedFiles)
	ctx := context.Background()
	bump := func(tag string) string {
		res, err := gitops.Bump(ctx, cfg(s, tag))
		if err != nil {
			t.Fatal(err)
		}
		os.RemoveAll(res.Dir)
		return res.Commit
	}
	c11 := bump("v1.1.0")
	pushCommit(t, s, "feature a")
	c12 := bump("v1.2.0")
	pushCommit(t, s, "feature b")

	h, err := gitops.History(ctx, cfg(s, ""), 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range h.Releases {
		got = append(got, r.Tag)
	}
	if strings.Join(got, " ") != "v1.2.0 v1.1.0 v1.0.0" || h.Truncated || h.Commits != 5 || h.Dir != "" {
		t.Fatalf("history = %v (%+v)", got, h)
	}
	if h.Releases[0].Commit != c12 || h.Releases[1].Commit != c11 || h.Releases[0].Author != "tandem" ||
		h.Releases[0].Subject != "ci: update shop image tag to v1.2.0 [skip ci]" || h.Head != s.Git(t, "rev-parse", "main") {
		t.Errorf("releases = %+v", h.Releases)
	}

	// Three commits: v1.2.0's and feature a's (which belongs to v1.1.0), truncated.
	h, err = gitops.History(ctx, cfg(s, ""), 3)
	if err != nil || len(h.Releases) != 2 || !h.Truncated || h.Releases[1].Tag != "v1.1.0" {
		t.Errorf("depth 3 = %+v, %v", h, err)
	}

	// Kept in the given folder, checked out at the head.
	c := cfg(s, "")
	c.Dir = filepath.Join(t.TempDir(), "clone")
	if h, err = gitops.History(ctx, c, 0); err != nil || h.Dir != c.Dir {
		t.Fatalf("History into %s = %+v, %v", c.Dir, h, err)
	}
	if b, err := os.ReadFile(filepath.Join(c.Dir, "k8s", "deployment-variables.yaml")); err != nil || !strings.Contains(string(b), "v1.2.0") {
		t.Errorf("the clone's variables file: %s %v", b, err)
	}

	// Bad input.
	noFile := cfg(s, "")
	noFile.File = "deploy/vars.yaml"
	wrongBranch := cfg(s, "")
	wrongBranch.Branch = "nope"
	for _, c := range []struct {
		name string
		cfg  gitops.Config
		want error
		says string
	}{
		{"no variables file", noFile, nil, "deploy/vars.yaml"},
		{"no branch", wrongBranch, gitops.ErrBranchNotFound, "nope"},
	} {
		if _, err := gitops.History(ctx, c.cfg, 0); err == nil || (c.want != nil && !errors.Is(err, c.want)) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
