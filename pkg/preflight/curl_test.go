package preflight_test

import (
	"net/http"
	"net/http/httptest"
	"os/exec"
	"testing"

	"github.com/tandem-ci/tandem/pkg/preflight"
)

// TestCurlCheck: the container runner's HTTP check, run here with the system's curl
// against a real server: one process whose output carries the status and the body (two
// chained execs lost the status: "curl printed \"[]\"").
func TestCurlCheck(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/gone" {
			http.Error(w, "column missing", http.StatusInternalServerError)
			return
		}
		w.Write([]byte("[]"))
	}))
	defer srv.Close()
	for path, want := range map[string]struct {
		status int
		body   string
	}{"/notes": {200, "[]"}, "/gone": {500, "column missing"}} {
		argv := preflight.CurlCheck(srv.URL + path)
		out, err := exec.Command(argv[0], argv[1:]...).Output()
		if err != nil {
			t.Fatal(err)
		}
		status, body, err := preflight.ParseCurlCheck(string(out))
		if err != nil || status != want.status || body != want.body {
			t.Errorf("%s: %d %q %v, want %d %q", path, status, body, err, want.status, want.body)
		}
	}
	if _, _, err := preflight.ParseCurlCheck("[]"); err == nil {
		t.Error("a body without a status line parsed")
	}
}
