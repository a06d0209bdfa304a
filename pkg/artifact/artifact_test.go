package artifact_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/oci"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/crane"

	"github.com/tandem-ci/tandem/internal/testregistry"
	"github.com/tandem-ci/tandem/pkg/artifact"
	"github.com/tandem-ci/tandem/pkg/image"
)

func folder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"kustomization.yaml":        "resources: [deployment-variables.yaml]\n",
		"deployment-variables.yaml": "kind: ConfigMap\n",
		"logo.png":                  "not shipped",
		".git/config":               "[core]\n",
		"sub/extra.yaml":            "kind: Secret\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestPushPullRoundTrip(t *testing.T) {
	reg := testregistry.New(t, "ci", "pw")
	kc := image.Keychain(image.Credentials{Username: "ci", Password: "pw"}, func(string) string { return "" })
	ctx := context.Background()
	dir := folder(t)
	url := artifact.URL(reg.Host+"/shop-manifests", "v1.42.0")
	rev := artifact.Revision("main", "0123456789abcdef0123456789abcdef01234567")
	res, err := artifact.Push(ctx, url, dir, artifact.WithKeychain(kc), artifact.WithSource("https://git.example.com/shop.git"),
		artifact.WithRevision(rev), artifact.WithExtraTags("latest"), artifact.WithIgnore("sub/"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Unchanged || !strings.Contains(res.Digest, "@sha256:") || res.Revision != rev {
		t.Errorf("result = %+v", res)
	}
	// Pull back with Flux's own client and compare files, media types and annotations.
	client := oci.NewClient([]crane.Option{crane.WithAuthFromKeychain(kc)})
	out := t.TempDir()
	meta, err := client.Pull(ctx, strings.TrimPrefix(url, "oci://"), out)
	if err != nil {
		t.Fatal(err)
	}
	if meta.Revision != rev || meta.Source != "https://git.example.com/shop.git" || meta.Created != artifact.ReproducibleCreated {
		t.Errorf("annotations = %+v", meta)
	}
	for _, name := range []string{"kustomization.yaml", "deployment-variables.yaml"} {
		want, _ := os.ReadFile(filepath.Join(dir, name))
		got, err := os.ReadFile(filepath.Join(out, name))
		if err != nil || string(got) != string(want) {
			t.Errorf("%s: got %q (%v), want %q", name, got, err, want)
		}
	}
	for _, name := range []string{"logo.png", ".git/config", "sub/extra.yaml"} {
		if _, err := os.Stat(filepath.Join(out, name)); err == nil {
			t.Errorf("%s must be ignored", name)
		}
	}
	m, err := crane.Manifest(strings.TrimPrefix(url, "oci://"), crane.WithAuthFromKeychain(kc))
	if err != nil {
		t.Fatal(err)
	}
	for _, mt := range []string{string(oci.CanonicalConfigMediaType), string(oci.CanonicalContentMediaType)} {
		if !strings.Contains(string(m), mt) {
			t.Errorf("manifest lacks media type %s:\n%s", mt, m)
		}
	}
	if d, err := crane.Digest(reg.Host+"/shop-manifests:latest", crane.WithAuthFromKeychain(kc)); err != nil || !strings.HasSuffix(res.Digest, d) {
		t.Errorf("extra tag latest = %s (%v), want %s", d, err, res.Digest)
	}

	// Same content, new file times: same digest, nothing pushed.
	future := time.Now().Add(48 * time.Hour)
	filepath.Walk(dir, func(p string, _ os.FileInfo, _ error) error { return os.Chtimes(p, future, future) })
	before, writes := reg.Requests.Load(), reg.Writes.Load()
	again, err := artifact.Push(ctx, url, dir, artifact.WithKeychain(kc), artifact.WithSource("https://git.example.com/shop.git"), artifact.WithRevision(rev), artifact.WithIgnore("sub/"))
	if err != nil || !again.Unchanged || again.Digest != res.Digest {
		t.Errorf("second push = %+v, %v; want unchanged with digest %s", again, err, res.Digest)
	}
	if n := reg.Writes.Load() - writes; n != 0 {
		t.Errorf("the unchanged push wrote %d times to the registry, want 0", n)
	}
	checked := reg.Requests.Load() - before
	forced, err := artifact.Push(ctx, url, dir, artifact.WithKeychain(kc), artifact.WithSource("https://git.example.com/shop.git"), artifact.WithRevision(rev), artifact.WithIgnore("sub/"), artifact.WithForce())
	if err != nil || forced.Digest != res.Digest {
		t.Errorf("forced push of the same content after touching files: digest %s, want %s (%v)", forced.Digest, res.Digest, err)
	}
	// The check reads the tag's manifest, config and layer (6 requests with auth
	// challenges when written): a handful, not one per file.
	if checked > 12 {
		t.Errorf("the unchanged check made %d registry requests, want at most 12", checked)
	}
}

func TestPushErrors(t *testing.T) {
	reg := testregistry.New(t, "ci", "pw")
	ctx := context.Background()
	good := image.Keychain(image.Credentials{Username: "ci", Password: "pw"}, func(string) string { return "" })
	wrong := image.Keychain(image.Credentials{Username: "ci", Password: "hunter2-secret"}, func(string) string { return "" })
	escaping := folder(t)
	if err := os.Symlink("/etc/passwd", filepath.Join(escaping, "passwd.yaml")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, url, dir string
		kc             authn.Keychain
		wantErr        string
		is             error
	}{
		{"missing folder", artifact.URL(reg.Host+"/m", "v1"), filepath.Join(t.TempDir(), "k8s"), good, "manifests folder not found", artifact.ErrNoFolder},
		{"symlink escapes", artifact.URL(reg.Host+"/m", "v1"), escaping, good, "symlink leads outside the folder", artifact.ErrSymlinkEscapes},
		{"empty folder", artifact.URL(reg.Host+"/m", "v1"), t.TempDir(), good, "no kustomization.yaml", artifact.ErrNoKustomization},
		{"no kustomization", artifact.URL(reg.Host+"/m", "v1"), noKustomization(t), good, "Flux prune", artifact.ErrNoKustomization},
		{"wrong password", artifact.URL(reg.Host+"/m", "v1"), folder(t), wrong, "401 Unauthorized", nil},
		{"unreachable registry", artifact.URL("127.0.0.1:1/m", "v1"), folder(t), good, "connection refused", nil},
		{"not an oci url", reg.Host + "/m:v1", folder(t), good, "parsing artifact URL", nil},
		{"invalid tag", artifact.URL(reg.Host+"/m", "bad tag"), folder(t), good, "could not parse reference", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := artifact.Push(ctx, tt.url, tt.dir, artifact.WithKeychain(tt.kc))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Push = %v, want error containing %q", err, tt.wantErr)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			if strings.Contains(err.Error(), "hunter2-secret") {
				t.Errorf("error leaks the password: %v", err)
			}
		})
	}
}

func noKustomization(t *testing.T) string {
	dir := folder(t)
	os.Remove(filepath.Join(dir, "kustomization.yaml"))
	return dir
}

// TestSymlinksInsideAreShipped: a symlink to a file or folder inside the manifests
// folder ships what it points at, so the pulled artifact builds as the folder does.
func TestSymlinksInsideAreShipped(t *testing.T) {
	reg := testregistry.New(t, "", "")
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "shared"), 0o755)
	os.WriteFile(filepath.Join(dir, "shared", "rbac.yaml"), []byte("kind: Role\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte("resources: [rbac.yaml, base/rbac.yaml]\n"), 0o644)
	if err := os.Symlink("shared/rbac.yaml", filepath.Join(dir, "rbac.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("shared", filepath.Join(dir, "base")); err != nil {
		t.Fatal(err)
	}
	url := artifact.URL(reg.Host+"/m", "v1")
	res, err := artifact.Push(context.Background(), url, dir)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if _, err := oci.NewClient(nil).Pull(context.Background(), strings.TrimPrefix(url, "oci://"), out); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"rbac.yaml", "base/rbac.yaml", "shared/rbac.yaml"} {
		if b, err := os.ReadFile(filepath.Join(out, f)); err != nil || string(b) != "kind: Role\n" {
			t.Errorf("pulled %s = %q, %v", f, b, err)
		}
	}
	again, err := artifact.Push(context.Background(), url, dir)
	if err != nil || !again.Unchanged || again.Digest != res.Digest {
		t.Errorf("second push = %+v, %v", again, err)
	}
}

// TestAssembleIsFluxPush (issue 25): the artifact tandem assembles locally is the one
// fluxcd/pkg/oci's Client.Push would push, byte for byte (same digest): an unchanged
// artifact is found with one HEAD request instead of a pull and a diff.
func TestAssembleIsFluxPush(t *testing.T) {
	reg := testregistry.New(t, "", "")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte("resources: [cm.yaml]\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "cm.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"), 0o644)
	ctx := context.Background()
	res, err := artifact.Push(ctx, "oci://"+reg.Host+"/tandem:v1", dir, artifact.WithSource("https://git.example.com/x.git"), artifact.WithRevision("main@sha1:abc"))
	if err != nil {
		t.Fatal(err)
	}
	client := oci.NewClient(nil)
	meta := oci.Metadata{Created: artifact.ReproducibleCreated, Source: "https://git.example.com/x.git", Revision: "main@sha1:abc"}
	flux, err := client.Push(ctx, reg.Host+"/flux:v1", dir, oci.WithPushMetadata(meta), oci.WithPushIgnorePaths(append(append([]string{}, artifact.DefaultIgnore...), ".git/", ".git")...))
	if err != nil {
		t.Fatal(err)
	}
	_, want, _ := strings.Cut(flux, "@")
	_, got, _ := strings.Cut(res.Digest, "@")
	if got != want {
		t.Errorf("tandem's artifact %s, flux's %s: the assembly drifted from fluxcd/pkg/oci's Push", got, want)
	}
	// Unchanged: one HEAD request, nothing pulled or pushed.
	requests, writes := reg.Requests.Load(), reg.Writes.Load()
	again, err := artifact.Push(ctx, "oci://"+reg.Host+"/tandem:v1", dir, artifact.WithSource("https://git.example.com/x.git"), artifact.WithRevision("main@sha1:abc"))
	if err != nil || !again.Unchanged || again.Digest != res.Digest {
		t.Errorf("re-push = %+v, %v", again, err)
	}
	if n, w := reg.Requests.Load()-requests, reg.Writes.Load()-writes; w != 0 || n > 2 {
		t.Errorf("an unchanged artifact cost %d requests (%d writes), want a ping and a HEAD", n, w)
	}
}
