// Package testgit serves a real bare git repository over smart HTTP for tests: the
// system's `git http-backend` behind net/http/cgi, with optional basic auth. A
// pre-receive hook records the push options each push carried.
package testgit

import (
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Server is a running git server with one repository, repo.git.
type Server struct {
	*httptest.Server
	Bare     string // path of the bare repository
	RepoURL  string // http://127.0.0.1:port/repo.git
	optsFile string
}

// New creates repo.git with branch main holding files, and serves it.
func New(t testing.TB, user, password string, files map[string]string) *Server {
	t.Helper()
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git not installed")
	}
	root := t.TempDir()
	s := &Server{Bare: filepath.Join(root, "repo.git"), optsFile: filepath.Join(root, "push-options")}
	work := filepath.Join(root, "work")
	run(t, root, "init", "-q", "--bare", "-b", "main", s.Bare)
	run(t, s.Bare, "config", "http.receivepack", "true")
	run(t, s.Bare, "config", "receive.advertisePushOptions", "true")
	hook := "#!/bin/sh\ni=0\nwhile [ $i -lt \"${GIT_PUSH_OPTION_COUNT:-0}\" ]; do eval \"echo \\$GIT_PUSH_OPTION_$i\" >> " + s.optsFile + "; i=$((i+1)); done\n"
	if err := os.WriteFile(filepath.Join(s.Bare, "hooks", "pre-receive"), []byte(hook), 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, root, "init", "-q", "-b", "main", work)
	for name, content := range files {
		p := filepath.Join(work, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run(t, work, "add", "-A")
	run(t, work, "-c", "user.name=seed", "-c", "user.email=seed@example.com", "commit", "-q", "-m", "initial")
	run(t, work, "push", "-q", s.Bare, "main")
	backend := &cgi.Handler{
		Path:   gitPath,
		Args:   []string{"http-backend"},
		Env:    []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
		Stderr: io.Discard, // rejected concurrent pushes are expected; the client sees them
	}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user != "" {
			if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
				w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
				http.Error(w, "authentication required", http.StatusUnauthorized)
				return
			}
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	s.RepoURL = s.URL + "/repo.git"
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
	return run(t, s.Bare, args...)
}

func run(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}
