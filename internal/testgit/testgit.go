// Package testgit serves a real bare git repository over smart HTTP for tests (see
// internal/gitserver), with a pre-receive hook that records the push options of each push.
package testgit

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-ci/tandem/internal/gitserver"
)

// Server is a running git server with one repository, repo.git.
type Server struct {
	*gitserver.Server
	Bare     string // path of the bare repository
	RepoURL  string // http://127.0.0.1:port/repo.git
	optsFile string
}

// New creates repo.git with branch main holding files, and serves it.
func New(t testing.TB, user, password string, files map[string]string) *Server {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set but git is not installed: .ci/run must install it")
		}
		t.Skip("git not installed")
	}
	root := t.TempDir()
	gs, err := gitserver.Start(root, user, password)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gs.Close() })
	s := &Server{Server: gs, Bare: filepath.Join(root, "repo.git"), optsFile: filepath.Join(root, "push-options")}
	if s.RepoURL, err = gs.CreateRepo("repo", "", files); err != nil {
		t.Fatal(err)
	}
	hook := "#!/bin/sh\ni=0\nwhile [ $i -lt \"${GIT_PUSH_OPTION_COUNT:-0}\" ]; do eval \"echo \\$GIT_PUSH_OPTION_$i\" >> " + s.optsFile + "; i=$((i+1)); done\n"
	if err := os.WriteFile(filepath.Join(s.Bare, "hooks", "pre-receive"), []byte(hook), 0o755); err != nil {
		t.Fatal(err)
	}
	return s
}

// PushOptions returns every push option received so far.
func (s *Server) PushOptions() []string {
	b, _ := os.ReadFile(s.optsFile)
	return strings.Fields(string(b))
}

// Git runs git in the bare repository and returns its trimmed output.
func (s *Server) Git(t testing.TB, args ...string) string {
	t.Helper()
	out, err := gitserver.Git(s.Bare, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
