package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fluxcd/pkg/oci"
	"github.com/google/go-containerregistry/pkg/crane"

	"github.com/tandem-ci/tandem/internal/testgit"
	"github.com/tandem-ci/tandem/internal/testnet"
	"github.com/tandem-ci/tandem/internal/testregistry"
	"github.com/tandem-ci/tandem/pkg/manifest"
)

// The regressions of hardening round 2 (issue 19) that concern only the CLI's mapping.

// TestInitReplicasZero: --replicas 0 scales the Deployment to zero; it is not "unset".
func TestInitReplicasZero(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "k8s")
	if _, err := run(t, "init", dir, "--app", "shop", "--image", "r.example.com/shop", "--migration-command", "m", "--replicas", "0", "--no-flux"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "deployment.yaml"))
	if err != nil || !strings.Contains(string(b), "replicas: 0\n") {
		t.Errorf("deployment.yaml (%v):\n%s", err, b)
	}
	if _, err := run(t, "init", dir, "--app", "shop", "--image", "r.example.com/shop", "--migration-command", "m", "--replicas", "-1", "--force", "--no-flux"); err == nil || !strings.Contains(err.Error(), "replicas -1") {
		t.Errorf("--replicas -1 = %v", err)
	}
	// Left unset, the default stays.
	if f, err := manifest.Files(manifest.Spec{App: "shop", Image: "r.example.com/shop", MigrationCommand: []string{"m"}}); err != nil || !strings.Contains(string(f["deployment.yaml"]), "replicas: 2\n") {
		t.Errorf("default replicas (%v):\n%s", err, f["deployment.yaml"])
	}
}

// apiRecorder stands in for a kube-apiserver and records the paths asked for; it
// answers 404, which is all these tests need (which namespace the command asks).
func apiRecorder(t *testing.T) (kubeconfig string, paths func() []string) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`))
	}))
	t.Cleanup(srv.Close)
	kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	os.WriteFile(kubeconfig, []byte("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "+srv.URL+"}}]\ncontexts: [{name: c, context: {cluster: c, user: u, namespace: apps}}]\nusers: [{name: u, user: {}}]\ncurrent-context: c\n"), 0o600)
	return kubeconfig, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string{}, got...) }
}

// TestReconcileFluxNamespace: `tandem reconcile` looks for the Flux objects in
// flux-system (as release --reconcile does), not in the kube context's namespace.
func TestReconcileFluxNamespace(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "/namespaces/flux-system/ocirepositories/shop"},
		{[]string{"--flux-namespace", "gitops"}, "/namespaces/gitops/ocirepositories/shop"},
		{[]string{"-n", "legacy"}, "/namespaces/legacy/ocirepositories/shop"},
	} {
		kubeconfig, paths := apiRecorder(t)
		_, err := run(t, append([]string{"reconcile", "--source", "shop", "--kubeconfig", kubeconfig, "--timeout", "5s"}, c.args...)...)
		if err == nil {
			t.Errorf("%v: reconcile of a missing object succeeded", c.args)
		}
		found := false
		for _, p := range paths() {
			found = found || strings.HasSuffix(p, c.want)
			if strings.Contains(p, "/namespaces/apps/") {
				t.Errorf("%v: asked the context's namespace: %s", c.args, p)
			}
		}
		if !found {
			t.Errorf("%v: never asked for %s: %v", c.args, c.want, paths())
		}
	}
}

// TestTimeoutMustBePositive: --timeout 0 or a negative one is refused, not "no deadline".
func TestTimeoutMustBePositive(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"reconcile", "--source", "shop", "--timeout", "0"},
		{"watch", "--app", "shop", "--tag", "v1.0.0", "--timeout", "-1s"},
		{"commit", "--repo-url", "http://127.0.0.1:1/x.git", "--branch", "main", "--tag", "v1.0.0", "--timeout", "0"},
		{"push-artifact", "--path", dir, "--artifact-repo", "127.0.0.1:1/m", "--tag", "v1.0.0", "--timeout", "-1s"},
		{"release", "--app", "shop", "--registry", "127.0.0.1:1", "--repo-url", "http://127.0.0.1:1/x.git", "--branch", "main", "--tag", "v1.0.0", "--checkout", dir, "--timeout", "0", "--dry-run"},
	} {
		if _, err := run(t, args...); err == nil || !strings.Contains(err.Error(), "--timeout") || !strings.Contains(err.Error(), "must be positive") {
			t.Errorf("%v = %v", args, err)
		}
	}
}

// TestJSONErrorAfterBadFlag: -o json after a bad flag or an unknown command still gets
// JSON on stdout (the real binary: parsing stops before -o is read).
func TestJSONErrorAfterBadFlag(t *testing.T) {
	bin := filepath.Join(tandemBinary(t), "tandem")
	for _, args := range [][]string{
		{"commit", "--bogus", "-o", "json"},
		{"frobnicate", "-o", "json"},
		{"commit", "--bogus", "--output=json"},
	} {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var got struct{ Error string }
		if err == nil || json.Unmarshal(stdout.Bytes(), &got) != nil || got.Error == "" {
			t.Errorf("%v: exit %v, stdout %q, stderr %q", args, err, stdout.String(), stderr.String())
		}
		if strings.HasSuffix(got.Error, "\n") || strings.HasSuffix(stderr.String(), "\n\n") {
			t.Errorf("%v: stray newline in %q", args, got.Error)
		}
	}
}

// TestFeatureBranchRefused: with GitLab's CI_COMMIT_BRANCH=feature and
// CI_DEFAULT_BRANCH=main, release, commit and push-artifact refuse before anything is
// built or pushed; --release-branch feature releases it on purpose.
func TestFeatureBranchRefused(t *testing.T) {
	reg := testregistry.New(t, "", "")
	t.Setenv("CI_COMMIT_BRANCH", "feature")
	t.Setenv("CI_DEFAULT_BRANCH", "main")
	t.Setenv("CI_PROJECT_URL", "")
	dir := t.TempDir()
	hello, _ := filepath.Abs("../../pkg/image/testdata/hello")
	for _, args := range [][]string{
		{"release", "--app", "shop", "--registry", reg.Host, "--source", hello, "--checkout", dir, "--repo-url", "http://127.0.0.1:1/shop.git", "--tag", "v1.11.0"},
		{"commit", "--app", "shop", "--repo-url", "http://127.0.0.1:1/shop.git", "--tag", "v1.11.0"},
		{"push-artifact", "--app", "shop", "--registry", reg.Host, "--path", dir, "--tag", "v1.11.0"},
	} {
		before := reg.Requests.Load()
		_, err := run(t, args...)
		if err == nil || !strings.Contains(err.Error(), `branch "feature": not the default branch "main"`) || !strings.Contains(err.Error(), "CI_DEFAULT_BRANCH") {
			t.Errorf("%s: %v", args[0], err)
		}
		if n := reg.Requests.Load() - before; n != 0 {
			t.Errorf("%s: %d registry requests before refusing", args[0], n)
		}
	}
	out, err := run(t, "release", "--app", "shop", "--registry", reg.Host, "--source", hello, "--checkout", dir, "--repo-url", "http://127.0.0.1:1/shop.git", "--tag", "v1.11.0", "--release-branch", "feature", "--dry-run")
	if err != nil || !strings.Contains(out, "on feature of") {
		t.Errorf("--release-branch feature --dry-run: %v\n%s", err, out)
	}
}

// gitCheckout makes a git checkout in dir with origin url and one commit on main.
func gitCheckout(t *testing.T, dir, url string) string {
	t.Helper()
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"}, {"remote", "add", "origin", url}} {
		if out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	out, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// TestPushArtifactFromCheckout (items 1 and 9): the README's step-by-step flow pushes
// k8s/ from a checkout still at v0.1.0 under v1.20.0: the artifact runs v1.20.0 and names
// the checkout's commit and origin (no credentials); --path . ships the checkout's root.
func TestPushArtifactFromCheckout(t *testing.T) {
	reg := testregistry.New(t, "", "")
	for _, k := range []string{"CI_PROJECT_URL", "CI_COMMIT_SHA", "CI_COMMIT_BRANCH", "CI_DEFAULT_BRANCH"} {
		t.Setenv(k, "")
	}
	for _, c := range []struct{ path, sub string }{{"k8s", "k8s"}, {".", ""}, {"./", ""}} {
		checkout := t.TempDir()
		if _, err := manifest.Render(filepath.Join(checkout, c.sub), manifest.Spec{App: "shop", Image: reg.Host + "/shop", MigrationCommand: []string{"m"}, Tag: "v0.1.0"}); err != nil {
			t.Fatal(err)
		}
		head := gitCheckout(t, checkout, "https://ci:glpat-secret@git.example.com/acme/shop.git")
		t.Chdir(checkout)
		out, err := run(t, "push-artifact", "--app", "shop", "--registry", reg.Host, "--path", c.path, "--tag", "v1.20.0", "-o", "json")
		if err != nil {
			t.Fatalf("--path %s: %v\n%s", c.path, err, out)
		}
		if strings.Contains(out, "glpat-secret") {
			t.Error("output leaks the origin's token")
		}
		pulled := t.TempDir()
		meta, err := oci.NewClient(nil).Pull(context.Background(), reg.Host+"/shop/manifests:v1.20.0", pulled)
		if err != nil {
			t.Fatal(err)
		}
		if meta.Revision != "main@sha1:"+head || meta.Source != "https://git.example.com/acme/shop.git" {
			t.Errorf("--path %s: revision %q, source %q", c.path, meta.Revision, meta.Source)
		}
		y, err := manifest.BuildYAML(context.Background(), pulled)
		if err != nil || !strings.Contains(string(y), "name: shop-migration-v1.20.0") || strings.Contains(string(y), "v0.1.0") {
			t.Errorf("--path %s: artifact builds (%v):\n%s", c.path, err, y)
		}
		if _, err := os.Stat(filepath.Join(pulled, ".git")); err == nil {
			t.Errorf("--path %s shipped .git", c.path)
		}
	}
}

// TestRemotePatchRefused (item 3): render, lint and release of a folder whose patch is a
// URL on a server that never answers end at once, naming the field.
func TestRemotePatchRefused(t *testing.T) {
	silent := testnet.Silent(t)
	reg := testregistry.New(t, "", "")
	checkout := t.TempDir()
	dir := filepath.Join(checkout, "k8s")
	if _, err := manifest.Render(dir, manifest.Spec{App: "shop", Image: reg.Host + "/shop", MigrationCommand: []string{"m"}}); err != nil {
		t.Fatal(err)
	}
	k, _ := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	os.WriteFile(filepath.Join(dir, "kustomization.yaml"), append(k, []byte("patches:\n  - path: http://"+silent+"/replicas.yaml\n")...), 0o644)
	t.Setenv("CI_PROJECT_URL", "")
	t.Setenv("CI_DEFAULT_BRANCH", "")
	for _, args := range [][]string{
		{"render", dir},
		{"render", dir, "--tag", "v1.2.0"},
		{"lint", dir, "-o", "json"},
		{"release", "--app", "shop", "--registry", reg.Host, "--checkout", checkout, "--repo-url", "http://" + silent + "/shop.git", "--branch", "main", "--tag", "v1.2.0", "--timeout", "3s"},
	} {
		var out string
		err := testnet.Within(t, 20*time.Second, func() error { var err error; out, err = run(t, args...); return err })
		if err == nil || (!strings.Contains(err.Error(), "remote") && !strings.Contains(out, "remote reference")) || (!strings.Contains(err.Error(), "patches[].path") && !strings.Contains(out, "patches[].path")) {
			t.Errorf("%v: %v\n%s", args, err, out)
		}
	}
}

// TestImagesNamesBinaryAfterApp (item 20): a module-root package builds /app/<app>, not
// /app/<name of the checkout folder>.
func TestImagesNamesBinaryAfterApp(t *testing.T) {
	reg := testregistry.New(t, "", "")
	src := filepath.Join(t.TempDir(), "builds-1234-checkout")
	if err := os.CopyFS(src, os.DirFS("../../pkg/image/testdata/hello")); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, "images", "--app", "shop", "--source", src, "--registry", reg.Host, "--tag", "v1.0.0"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	cfg, err := crane.Config(reg.Host + "/shop:v1.0.0")
	if err != nil || !strings.Contains(string(cfg), `"Entrypoint":["/app/shop"]`) {
		t.Errorf("service image config (%v): %s", err, cfg)
	}
}

// TestImagesSIGTERMLeavesNoTemp (item 8): SIGTERM in the middle of go build leaves no
// go-build* (or other) folder in $TMPDIR.
func TestImagesSIGTERMLeavesNoTemp(t *testing.T) {
	bin := filepath.Join(tandemBinary(t), "tandem")
	reg := testregistry.New(t, "", "")
	hello, _ := filepath.Abs("../../pkg/image/testdata/hello")
	tmp := t.TempDir()
	cmd := exec.Command(bin, "images", "--app", "shop", "--source", hello, "--registry", reg.Host, "--tag", "v1.0.0")
	// An empty build cache: go build compiles the standard library for seconds.
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "GOCACHE="+t.TempDir())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until go build has made its work folder, then stop tandem.
	deadline := time.Now().Add(30 * time.Second)
	for !hasGoBuildDir(tmp) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !hasGoBuildDir(tmp) {
		t.Fatalf("go build never started:\n%s", out.String())
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := testnet.Within(t, 30*time.Second, cmd.Wait); err == nil || !strings.Contains(out.String(), "stopped") {
		t.Errorf("images after SIGTERM: %v\n%s", err, out.String())
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "*")); len(left) != 0 {
		t.Errorf("$TMPDIR holds %v after SIGTERM", left)
	}
}

// hasGoBuildDir reports whether go build's work folder exists below dir.
func hasGoBuildDir(dir string) bool {
	found := false
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() && strings.HasPrefix(d.Name(), "go-build") {
			found = true
			return filepath.SkipAll
		}
		return nil
	})
	return found
}

// TestRenderPathWithSpaces (item 10): render --tag builds a folder whose path has a
// space and a non-ASCII letter, as plain render does.
func TestRenderPathWithSpaces(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "my app", "k8s é")
	if _, err := run(t, "init", dir, "--app", "shop", "--image", "r.example.com/shop", "--migration-command", "m", "--no-flux"); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"render", dir}, {"render", dir, "--tag", "v1.2.0"}, {"lint", dir}} {
		if out, err := run(t, args...); err != nil {
			t.Errorf("%v: %v\n%s", args, err, out)
		}
	}
}

// TestReleaseMessages (item 20): --push-superseded says what it pushed; a superseded
// release says nothing was built; an artifact failure after the commit says the commit
// landed; a git server answering 503 is named as such, not as a timeout.
func TestReleaseMessages(t *testing.T) {
	reg := testregistry.New(t, "", "")
	git := testgit.New(t, "ci", "git-token", testgit.Under("k8s", manifestFiles(t, manifest.Spec{App: "shop", Image: reg.Host + "/shop", MigrationCommand: []string{"m"}, Tag: "v1.2.0"})))
	for _, k := range []string{"CI_PROJECT_URL", "CI_DEFAULT_BRANCH", "CI_REGISTRY_IMAGE"} {
		t.Setenv(k, "")
	}
	t.Setenv("TANDEM_GIT_TOKEN", "git-token")
	hello, _ := filepath.Abs("../../pkg/image/testdata/hello")
	args := func(tag string, extra ...string) []string {
		return append([]string{"release", "--app", "shop", "--registry", reg.Host, "--source", hello, "--checkout", t.TempDir(),
			"--repo-url", git.RepoURL, "--branch", "main", "--git-username", "ci", "--tag", tag}, extra...)
	}
	if out, err := run(t, args("v1.1.0")...); err != nil || !strings.Contains(out, "nothing built, committed or pushed") {
		t.Errorf("superseded release: %v\n%s", err, out)
	}
	if out, err := run(t, args("v1.1.0", "--push-superseded")...); err != nil || !strings.Contains(out, "the artifact pushed anyway") || strings.Contains(out, "nothing pushed") {
		t.Errorf("--push-superseded: %v\n%s", err, out)
	}
	silent := testnet.Silent(t)
	_, err := run(t, args("v1.3.0", "--artifact-repo", silent+"/m", "--timeout", "2s")...)
	if err == nil || !strings.Contains(err.Error(), "already landed on main") {
		t.Errorf("artifact failure after the commit: %v", err)
	}

	t.Setenv("TANDEM_GIT_TOKEN", "wrong-token")
	_, err = run(t, "commit", "--app", "shop", "--repo-url", git.RepoURL, "--branch", "main", "--git-username", "ci", "--tag", "v1.4.0")
	if err == nil || !strings.Contains(err.Error(), "git authentication failed") || strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "wrong-token") {
		t.Errorf("refused token: %q", err)
	}

	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	}))
	defer failing.Close()
	_, err = run(t, "commit", "--app", "shop", "--repo-url", failing.URL+"/shop.git", "--branch", "main", "--tag", "v1.3.0", "--timeout", "3s")
	if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "kept failing") || strings.Contains(err.Error(), "timed out") {
		t.Errorf("git server answering 503: %v", err)
	}
}

// TestConfigErrorsNameFlags (issue 20): the library names the field; the CLI says which
// flag (and variable) gives it.
func TestConfigErrorsNameFlags(t *testing.T) {
	for _, k := range []string{"CI_COMMIT_BRANCH", "CI_PROJECT_URL", "CI_REGISTRY_IMAGE", "CI_DEFAULT_BRANCH", "CI_PROJECT_NAME"} {
		t.Setenv(k, "")
	}
	base := []string{"release", "--app", "shop", "--registry", "r.example.com/acme", "--repo-url", "https://git.example.com/acme/shop.git", "--checkout", t.TempDir(), "--tag", "v1.0.0", "--dry-run"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "branch: required (--branch, or $CI_COMMIT_BRANCH)"},
		{[]string{"--branch", "main", "--path", "../x"}, `manifests path "../x": must be a path inside the repository (relative, no ..) (--path)`},
		{[]string{"--branch", "main", "--extra-tag", "bad tag"}, "(--extra-tag)"},
		{[]string{"--branch", "main", "--image", "r.example.com/shop:v1"}, "(--image)"},
	} {
		if _, err := run(t, append(append([]string{}, base...), c.args...)...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
}
