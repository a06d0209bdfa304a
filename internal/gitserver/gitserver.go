// Package gitserver serves bare git repositories over smart HTTP with the system's
// `git http-backend` behind net/http/cgi, optionally behind basic auth. Tests and
// `tandem demo` use it as a real git server on loopback.
package gitserver

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Server serves every bare repository under Root.
type Server struct {
	Root     string // folder holding <name>.git
	URL      string // http://127.0.0.1:port
	listener net.Listener
	srv      *http.Server
}

// Start serves root on a free loopback port; with a non-empty user every request needs
// basic auth.
func Start(root, user, password string) (*Server, error) {
	gitPath, err := exec.LookPath("git")
	if err != nil {
		return nil, fmt.Errorf("the git server needs git installed: %w", err)
	}
	backend := &cgi.Handler{
		Path:   gitPath,
		Args:   []string{"http-backend"},
		Env:    []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
		Stderr: io.Discard, // rejected concurrent pushes are expected; the client sees them
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{Root: root, URL: "http://" + l.Addr().String(), listener: l}
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user != "" {
			if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
				w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
				http.Error(w, "authentication required", http.StatusUnauthorized)
				return
			}
		}
		backend.ServeHTTP(w, r)
	})}
	go s.srv.Serve(l)
	return s, nil
}

// Close stops serving.
func (s *Server) Close() error { return s.srv.Close() }

// CreateRepo makes <name>.git under Root with branch main holding the files of src (a
// folder) plus extra files, committed once; it returns the repository URL.
func (s *Server) CreateRepo(name, src string, extra map[string]string) (string, error) {
	bare := filepath.Join(s.Root, name+".git")
	work, err := os.MkdirTemp("", "gitserver-work-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	if src != "" {
		if err := os.CopyFS(work, os.DirFS(src)); err != nil {
			return "", fmt.Errorf("copying %s: %w", src, err)
		}
	}
	for p, content := range extra {
		full := filepath.Join(work, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			return "", err
		}
	}
	for _, step := range []struct {
		dir  string
		args []string
	}{
		{s.Root, []string{"init", "-q", "--bare", "-b", "main", bare}},
		{bare, []string{"config", "http.receivepack", "true"}},
		{bare, []string{"config", "receive.advertisePushOptions", "true"}},
		{work, []string{"init", "-q", "-b", "main"}},
		{work, []string{"add", "-A"}},
		{work, []string{"-c", "user.name=tandem", "-c", "user.email=tandem@localhost", "commit", "-q", "-m", "initial"}},
		{work, []string{"push", "-q", bare, "main"}},
	} {
		if _, err := Git(step.dir, step.args...); err != nil {
			return "", err
		}
	}
	return s.URL + "/" + name + ".git", nil
}

// Git runs git in dir with a clean, self-contained configuration.
func Git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}
