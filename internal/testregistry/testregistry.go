// Package testregistry starts go-containerregistry's in-process OCI registry for tests,
// optionally behind HTTP basic auth, and counts the requests it serves.
package testregistry

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
)

// Registry is a running test registry.
type Registry struct {
	*httptest.Server
	Host     string // host:port, for image references
	Requests atomic.Int64
}

// New starts a registry; with a non-empty user every request needs basic auth.
func New(t testing.TB, user, password string) *Registry {
	t.Helper()
	r := &Registry{}
	reg := registry.New(registry.Logger(nopLogger()))
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.Requests.Add(1)
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
