// Package testregistry starts go-containerregistry's in-process OCI registry for tests,
// optionally behind HTTP basic auth, and counts the requests it serves (all, and writes).
package testregistry

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
)

// Registry is a running test registry.
type Registry struct {
	*httptest.Server
	Host     string // host:port, for image references
	Requests atomic.Int64
	// Writes counts requests that upload or change something: POST, PUT, PATCH, DELETE.
	Writes atomic.Int64

	mu      sync.Mutex
	written []string // paths of the writes, in order
}

// Written returns the paths of the writes served so far (/v2/REPO/blobs/uploads/…,
// /v2/REPO/manifests/TAG).
func (r *Registry) Written() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.written...)
}

// New starts a registry; with a non-empty user every request needs basic auth.
func New(t testing.TB, user, password string) *Registry {
	t.Helper()
	r := &Registry{}
	reg := registry.New(registry.Logger(nopLogger()))
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.Requests.Add(1)
		switch req.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
			r.Writes.Add(1)
			r.mu.Lock()
			r.written = append(r.written, req.URL.Path)
			r.mu.Unlock()
		}
		if user != "" {
			if u, p, ok := req.BasicAuth(); !ok || u != user || p != password {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
				return
			}
		}
		reg.ServeHTTP(w, req)
	}))
	t.Cleanup(r.Close)
	r.Host = strings.TrimPrefix(r.URL, "http://")
	return r
}
