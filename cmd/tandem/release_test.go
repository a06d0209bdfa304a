package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-ci/tandem/internal/testgit"
	"github.com/tandem-ci/tandem/internal/testnet"
	"github.com/tandem-ci/tandem/internal/testregistry"
	"github.com/tandem-ci/tandem/pkg/manifest"
)

func TestReleaseCommand(t *testing.T) {
	reg := testregistry.New(t, "ci", "registry-pw")
	git := testgit.New(t, "ci", "git-token", testgit.Under("k8s", manifestFiles(t, manifest.Spec{App: "shop", Image: reg.Host + "/shop", MigrationCommand: []string{"migrate"}, Tag: "v1.0.0"})))
	t.Setenv("TANDEM_REGISTRY_PASSWORD", "registry-pw")
	t.Setenv("TANDEM_GIT_TOKEN", "git-token")
	t.Setenv("CI_PIPELINE_ID", "42")
	t.Setenv("CI_REGISTRY_IMAGE", "")
	t.Setenv("CI_PROJECT_URL", "")
	hello, _ := filepath.Abs("../../pkg/image/testdata/hello")
	args := []string{"release", "--app", "shop", "--source", hello, "--registry", reg.Host, "--registry-username", "ci",
		"--repo-url", git.RepoURL, "--branch", "main", "--git-username", "ci"}

	out, err := run(t, append(args, "--dry-run")...)
	if err != nil || !strings.Contains(out, "images   planned") || !strings.Contains(out, "IMAGE_TAG=v1.42.0") {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	out, err = run(t, append(args, "-o", "json")...)
	if err != nil {
		t.Fatalf("release: %v\n%s", err, out)
	}
	var res struct {
		Tag      string
		Images   struct{ Migration struct{ LayersUploaded int } }
		Commit   struct{ Commit string }
		Artifact struct {
			URL, Digest, Revision string
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	head := git.Git(t, "rev-parse", "main")
	if res.Tag != "v1.42.0" || res.Commit.Commit != head || res.Artifact.Revision != "main@sha1:"+head || res.Artifact.URL != "oci://"+reg.Host+"/shop/manifests:v1.42.0" {
		t.Errorf("release result = %+v", res)
	}
	if strings.Contains(out, "git-token") || strings.Contains(out, "registry-pw") {
		t.Error("output leaks a credential")
	}
	// The single steps.
	if out, err = run(t, "commit", "--repo-url", git.RepoURL, "--branch", "main", "--git-username", "ci", "--tag", "v1.43.0"); err != nil || !strings.Contains(out, "commit   done") {
		t.Errorf("commit: %v\n%s", err, out)
	}
	dir := t.TempDir()
	if _, err := manifest.Render(dir, manifest.Spec{App: "shop", Image: reg.Host + "/shop", MigrationCommand: []string{"m"}}); err != nil {
		t.Fatal(err)
	}
	if out, err = run(t, "push-artifact", "--path", dir, "--registry", reg.Host, "--app", "shop", "--registry-username", "ci", "--tag", "v1.43.0", "--revision", "main@sha1:"+head); err != nil || !strings.Contains(out, "artifact done") {
		t.Errorf("push-artifact: %v\n%s", err, out)
	}
	if out, err = run(t, "images", "--source", hello, "--registry", reg.Host, "--app", "shop", "--registry-username", "ci", "--tag", "v1.43.0"); err != nil || !strings.Contains(out, "migration layers uploaded: 0") {
		t.Errorf("images: %v\n%s", err, out)
	}
	if _, err = run(t, "push-artifact", "--path", filepath.Join(dir, "missing"), "--registry", reg.Host, "--app", "shop", "--tag", "v1"); err == nil || !strings.Contains(err.Error(), "manifests folder not found") {
		t.Errorf("push-artifact of a missing folder: %v", err)
	}
}

func manifestFiles(t *testing.T, spec manifest.Spec) map[string][]byte {
	t.Helper()
	f, err := manifest.Files(spec)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestReleaseEveryDefault runs `tandem release` from the service's folder with the
// defaults --source . and --package . (main package at the module root), GitLab's
// variables giving the rest, as the component's binary engine runs it.
func TestReleaseEveryDefault(t *testing.T) {
	reg := testregistry.New(t, "gitlab-ci-token", "job-token")
	git := testgit.New(t, "project_7_bot", "deploy-token", testgit.Under("deploy/k8s", manifestFiles(t, manifest.Spec{App: "hello", Image: reg.Host + "/group/hello/hello", MigrationCommand: []string{"/app/hello", "migrate"}, Tag: "v1.0.0"})))
	src := t.TempDir()
	if err := os.CopyFS(src, os.DirFS("../../pkg/image/testdata/hello")); err != nil {
		t.Fatal(err)
	}
	t.Chdir(src)
	for k, v := range map[string]string{
		"CI_PROJECT_NAME": "hello", "CI_REGISTRY_IMAGE": reg.Host + "/group/hello", "CI_REGISTRY": reg.Host,
		"CI_REGISTRY_USER": "gitlab-ci-token", "CI_REGISTRY_PASSWORD": "job-token", "CI_PROJECT_URL": strings.TrimSuffix(git.RepoURL, ".git"),
		"CI_COMMIT_BRANCH": "main", "CI_PIPELINE_ID": "77", "CI_COMMIT_SHA": "0123456789abcdef0123456789abcdef01234567",
		"TANDEM_GIT_TOKEN": "deploy-token", "TANDEM_GIT_USERNAME": "project_7_bot", "TANDEM_REGISTRY_PASSWORD": "", "TANDEM_REGISTRY_USERNAME": "",
	} {
		t.Setenv(k, v)
	}
	out, err := run(t, "release", "--path", "deploy/k8s", "-o", "json")
	if err != nil {
		t.Fatalf("release with defaults: %v\n%s", err, out)
	}
	var res struct {
		Tag      string
		Images   struct{ Service, Migration struct{ Ref string } }
		Artifact struct{ URL string }
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	base := reg.Host + "/group/hello"
	if res.Tag != "v1.77.0" || res.Images.Service.Ref != base+"/hello:v1.77.0" || res.Images.Migration.Ref != base+"/hello-migration:v1.77.0" || res.Artifact.URL != "oci://"+base+"/hello/manifests:v1.77.0" {
		t.Errorf("release = %+v", res)
	}
	if got := git.Git(t, "show", "main:deploy/k8s/deployment-variables.yaml"); !strings.Contains(got, `"v1.77.0"`) {
		t.Errorf("deploy/k8s/deployment-variables.yaml on main:\n%s", got)
	}
	if strings.Contains(out, "deploy-token") || strings.Contains(out, "job-token") {
		t.Error("output leaks a credential")
	}
	// --package ./ names the binary after the folder too.
	if out, err := run(t, "images", "--package", "./", "--tag", "v1.78.0"); err != nil {
		t.Errorf("images --package ./: %v\n%s", err, out)
	}
}

// TestWaiterImage builds the lean waiter into its image and pushes it.
func TestWaiterImage(t *testing.T) {
	reg := testregistry.New(t, "", "")
	out, err := run(t, "waiter-image", "--source", "../..", "--image", reg.Host+"/tandem", "--tag", "v0.1.0", "-o", "json")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var res struct {
		Ref            string
		CompressedSize int64
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Ref != reg.Host+"/tandem:v0.1.0" || res.CompressedSize == 0 {
		t.Fatalf("waiter-image = %s (%v)", out, err)
	}
	t.Logf("waiter image: %.1f MB compressed", float64(res.CompressedSize)/1e6)
	if res.CompressedSize > 6_000_000 {
		t.Errorf("waiter image is %d bytes compressed, the bound is 6 MB (5.4 MB measured on 2026-12-02, gzip best): it links more than waiting needs", res.CompressedSize)
	}
}

// TestReleaseRefusesMismatchBeforePushing: a checkout whose k8s/ runs other images than
// the release would push fails before any image is built or pushed, dry run or not.
func TestReleaseRefusesMismatchBeforePushing(t *testing.T) {
	reg := testregistry.New(t, "", "")
	checkout := t.TempDir()
	if _, err := manifest.Render(filepath.Join(checkout, "k8s"), manifest.Spec{App: "shop", Image: "registry.example.com/other/shop", MigrationCommand: []string{"m"}}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CI_PROJECT_URL", "")
	hello, _ := filepath.Abs("../../pkg/image/testdata/hello")
	for _, extra := range [][]string{{"--dry-run"}, nil} {
		before := reg.Requests.Load()
		args := append([]string{"release", "--app", "shop", "--registry", reg.Host, "--source", hello, "--checkout", checkout,
			"--repo-url", "http://127.0.0.1:1/shop.git", "--branch", "main", "--tag", "v1.2.0"}, extra...)
		_, err := run(t, args...)
		if err == nil || !strings.Contains(err.Error(), "k8s/deployment.yaml: Deployment shop, container shop runs registry.example.com/other/shop:v1.2.0, but the release pushes "+reg.Host+"/shop:v1.2.0") {
			t.Errorf("release %v = %v", extra, err)
		}
		if n := reg.Requests.Load() - before; n != 0 {
			t.Errorf("release %v sent %d requests to the registry", extra, n)
		}
	}
}

// TestStepCommandsTimeOut: commit, images and push-artifact give up after --timeout on
// a server that never answers, naming the step and the host.
func TestStepCommandsTimeOut(t *testing.T) {
	silent := testnet.Silent(t)
	hello, _ := filepath.Abs("../../pkg/image/testdata/hello")
	dir := t.TempDir()
	if _, err := manifest.Render(dir, manifest.Spec{App: "shop", Image: silent + "/shop", MigrationCommand: []string{"m"}}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TANDEM_GIT_TOKEN", "tok")
	for step, args := range map[string][]string{
		"commit":   {"commit", "--repo-url", "http://" + silent + "/shop.git", "--branch", "main"},
		"images":   {"images", "--source", hello, "--registry", silent, "--app", "shop"},
		"artifact": {"push-artifact", "--path", dir, "--registry", silent, "--app", "shop"},
		"release":  {"release", "--source", hello, "--registry", silent, "--app", "shop", "--repo-url", "http://" + silent + "/shop.git", "--branch", "main"},
	} {
		args = append(args, "--tag", "v1.2.0", "--timeout", "1s")
		err := testnet.Within(t, 60*time.Second, func() error { _, err := run(t, args...); return err })
		if err == nil || !strings.Contains(err.Error(), "timed out after") || !strings.Contains(err.Error(), silent) {
			t.Errorf("%s: %v", step, err)
		}
	}
}

// TestReleaseValidatesBeforePushing: a missing branch or a broken message template fails
// before the first push, and --dry-run runs the same validation.
func TestReleaseValidatesBeforePushing(t *testing.T) {
	reg := testregistry.New(t, "", "")
	hello, _ := filepath.Abs("../../pkg/image/testdata/hello")
	t.Setenv("CI_COMMIT_BRANCH", "")
	t.Setenv("CI_PROJECT_URL", "")
	base := []string{"release", "--app", "shop", "--registry", reg.Host, "--source", hello, "--checkout", t.TempDir(),
		"--repo-url", "http://127.0.0.1:1/shop.git", "--tag", "v1.2.0"}
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"no branch":   {nil, "branch: required"},
		"bad message": {[]string{"--branch", "main", "--message", "{{.Nope}} [skip ci]"}, "commit message"},
		"bad file":    {[]string{"--branch", "main", "--file", "../elsewhere/deployment-variables.yaml"}, `variables file "../elsewhere/deployment-variables.yaml"`},
	} {
		for _, dry := range []bool{false, true} {
			args := append(append([]string{}, base...), c.args...)
			if dry {
				args = append(args, "--dry-run")
			}
			before := reg.Requests.Load()
			_, err := run(t, args...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s (dry run %v) = %v, want %q", name, dry, err, c.want)
			}
			if n := reg.Requests.Load() - before; n != 0 {
				t.Errorf("%s (dry run %v): %d registry requests before failing", name, dry, n)
			}
		}
	}
}

// TestSignalsEndCommands: SIGTERM (a cancelled CI job, a pod being stopped) and SIGINT
// end the real binary promptly, whatever it is waiting for.
func TestSignalsEndCommands(t *testing.T) {
	bin := filepath.Join(tandemBinary(t), "tandem")
	silent := testnet.Silent(t)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	os.WriteFile(kubeconfig, []byte("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: http://"+silent+"}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {}}]\ncurrent-context: c\n"), 0o600)
	hello, _ := filepath.Abs("../../pkg/image/testdata/hello")
	commands := map[string][]string{
		"wait":      {"wait", "job", "x", "--kubeconfig", kubeconfig, "-n", "ns"},
		"reconcile": {"reconcile", "--source", "shop", "--kubeconfig", kubeconfig},
		"commit":    {"commit", "--repo-url", "http://" + silent + "/shop.git", "--branch", "main", "--tag", "v1.2.0"},
		"images":    {"images", "--source", hello, "--registry", silent, "--app", "shop", "--tag", "v1.2.0"},
	}
	for name, args := range commands {
		for _, sig := range []os.Signal{syscall.SIGTERM, os.Interrupt} {
			cmd := exec.Command(bin, args...)
			cmd.Env = append(os.Environ(), "TANDEM_GIT_TOKEN=tok")
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Every command blocks on the silent server: give the binary time to start and
			// install its handler even on a loaded CI machine (2 cores, packages tested in
			// parallel: 500 ms was not always enough).
			time.Sleep(2 * time.Second)
			cmd.Process.Signal(sig)
			err := testnet.Within(t, 20*time.Second, cmd.Wait)
			if err == nil || !strings.Contains(out.String(), "signal received") && !strings.Contains(out.String(), "context canceled") {
				t.Errorf("%s after %v: %v\n%s", name, sig, err, out.String())
			}
		}
	}
}

// TestPushArtifactNeedsNoApp: pushing a folder to a named artifact repository needs no
// app name (as `flux push artifact` needs none).
func TestPushArtifactNeedsNoApp(t *testing.T) {
	reg := testregistry.New(t, "", "")
	t.Setenv("CI_PROJECT_NAME", "")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte("resources: [cm.yaml]\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "cm.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"), 0o644)
	if out, err := run(t, "push-artifact", "--path", dir, "--artifact-repo", reg.Host+"/m", "--tag", "v1.0.0"); err != nil || !strings.Contains(out, "artifact done") {
		t.Errorf("push-artifact without --app: %v\n%s", err, out)
	}
}
