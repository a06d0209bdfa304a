package image_test

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/tandem-ci/tandem/internal/testregistry"
	"github.com/tandem-ci/tandem/pkg/image"
)

func build(t *testing.T) image.Built {
	t.Helper()
	b, err := image.BuildGo(context.Background(), "testdata/hello", ".", image.WithBinaryName("hello"), image.WithArgs("serve"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPublishTwoImagesOneBuild(t *testing.T) {
	reg := testregistry.New(t, "ci", "s3cret")
	b := build(t)
	kc := image.Keychain(image.Credentials{Registry: reg.Host, Username: "ci", Password: "s3cret"}, func(string) string { return "" })
	res, err := image.Publish(context.Background(), b, reg.Host+"/shop", reg.Host+"/shop-migration", "v1.42.0", image.WithKeychain(kc))
	if err != nil {
		t.Fatal(err)
	}
	if res.Service.LayersUploaded != 1 || res.Migration.LayersUploaded != 0 {
		t.Errorf("layers uploaded: service %d, migration %d; want 1 and 0", res.Service.LayersUploaded, res.Migration.LayersUploaded)
	}
	if res.Service.Digest == res.Migration.Digest || !strings.HasPrefix(res.Service.Digest, "sha256:") {
		t.Errorf("digests: %s %s", res.Service.Digest, res.Migration.Digest)
	}
	opts := []remote.Option{remote.WithAuthFromKeychain(kc)}
	svc, err := remote.Image(ref(t, reg.Host+"/shop:v1.42.0"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	mig, err := remote.Image(ref(t, reg.Host+"/shop-migration:v1.42.0"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := mig.Digest(); d.String() != res.Migration.Digest {
		t.Errorf("registry has migration %s, Publish reported %s", d, res.Migration.Digest)
	}
	svcLayers, _ := svc.Layers()
	migLayers, _ := mig.Layers()
	if len(svcLayers) != 1 || len(migLayers) != 1 {
		t.Fatalf("layers: %d, %d", len(svcLayers), len(migLayers))
	}
	d1, _ := svcLayers[0].Digest()
	d2, _ := migLayers[0].Digest()
	if d1 != d2 {
		t.Errorf("migration layer %s differs from service layer %s", d2, d1)
	}
	svcCfg, _ := svc.ConfigFile()
	migCfg, _ := mig.ConfigFile()
	if strings.Join(svcCfg.Config.Entrypoint, " ") != "/app/hello" || strings.Join(svcCfg.Config.Cmd, " ") != "serve" {
		t.Errorf("service entrypoint/cmd = %v %v", svcCfg.Config.Entrypoint, svcCfg.Config.Cmd)
	}
	if len(migCfg.Config.Entrypoint) != 0 || len(migCfg.Config.Cmd) != 0 {
		t.Errorf("migration image must have no ENTRYPOINT/CMD, has %v %v", migCfg.Config.Entrypoint, migCfg.Config.Cmd)
	}
	// The binary in the pushed image runs.
	bin := extract(t, svcLayers[0].Uncompressed, "app/hello")
	out, err := exec.Command(bin, "x").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "hello from") {
		t.Errorf("running the image's binary: %v %s", err, out)
	}
}

func TestBuildIsReproducible(t *testing.T) {
	d1, _ := build(t).Service.Digest()
	d2, _ := build(t).Service.Digest()
	if d1 != d2 {
		t.Errorf("two builds of the same source: %s != %s", d1, d2)
	}
}

func TestPublishErrors(t *testing.T) {
	reg := testregistry.New(t, "ci", "s3cret")
	b := build(t)
	ctx := context.Background()
	wrong := image.Keychain(image.Credentials{Username: "ci", Password: "wrong-password-123"}, func(string) string { return "" })
	_, err := image.Publish(ctx, b, reg.Host+"/shop", reg.Host+"/shop-migration", "v1", image.WithKeychain(wrong))
	if err == nil || !strings.Contains(err.Error(), "pushing image "+reg.Host+"/shop:v1") || !strings.Contains(err.Error(), "401 Unauthorized") {
		t.Errorf("wrong password: %v", err)
	}
	if err != nil && strings.Contains(err.Error(), "wrong-password-123") {
		t.Errorf("error leaks the password: %v", err)
	}
	_, err = image.Publish(ctx, b, "127.0.0.1:1/shop", "127.0.0.1:1/shop-migration", "v1", image.WithKeychain(authn.NewMultiKeychain()))
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("unreachable registry: %v", err)
	}
	_, err = image.Publish(ctx, b, reg.Host+"/shop", reg.Host+"/shop-migration", "Bad Tag", image.WithKeychain(wrong))
	if err == nil || !strings.Contains(err.Error(), "parsing service image") {
		t.Errorf("invalid tag: %v", err)
	}
	_, err = image.BuildGo(ctx, "testdata/hello", "./nope")
	if err == nil || !strings.Contains(err.Error(), "building Go package ./nope") {
		t.Errorf("bad package: %v", err)
	}
}

func TestKeychainOrder(t *testing.T) {
	env := map[string]string{"CI_REGISTRY": "gitlab.example.com", "CI_REGISTRY_USER": "gitlab-ci-token", "CI_REGISTRY_PASSWORD": "job-token"}
	getenv := func(k string) string { return env[k] }
	resolve := func(kc authn.Keychain, reg string) authn.AuthConfig {
		t.Helper()
		a, err := kc.Resolve(ref(t, reg+"/x").Context())
		if err != nil {
			t.Fatal(err)
		}
		cfg, _ := a.Authorization()
		return *cfg
	}
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	if got := resolve(image.Keychain(image.Credentials{Username: "flag", Password: "p"}, getenv), "gitlab.example.com"); got.Username != "flag" {
		t.Errorf("explicit credentials must win, got %q", got.Username)
	}
	if got := resolve(image.Keychain(image.Credentials{}, getenv), "gitlab.example.com"); got.Username != "gitlab-ci-token" {
		t.Errorf("GitLab CI_REGISTRY_* must come next, got %q", got.Username)
	}
	if got := resolve(image.Keychain(image.Credentials{}, getenv), "other.example.com"); got.Username != "" {
		t.Errorf("GitLab credentials must not go to other registries, got %q", got.Username)
	}
	cfgDir := os.Getenv("DOCKER_CONFIG")
	os.WriteFile(filepath.Join(cfgDir, "config.json"), []byte(`{"auths":{"other.example.com":{"auth":"ZG9ja2VyOnB3"}}}`), 0o600)
	if got := resolve(image.Keychain(image.Credentials{}, getenv), "other.example.com"); got.Username != "docker" {
		t.Errorf("Docker config must come last, got %q", got.Username)
	}
}

func extract(t *testing.T, open func() (io.ReadCloser, error), name string) string {
	t.Helper()
	rc, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			t.Fatalf("%s not in layer", name)
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == name {
			p := filepath.Join(t.TempDir(), filepath.Base(name))
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o755)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(f, tr)
			f.Close()
			return p
		}
	}
}

func ref(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestBuildOnBase layers the binary on a base image from the registry; the pushed image
// keeps the base's layer and adds one.
func TestBuildOnBase(t *testing.T) {
	reg := testregistry.New(t, "", "")
	ctx := context.Background()
	first := build(t)
	if _, err := image.Publish(ctx, first, reg.Host+"/base", reg.Host+"/base-m", "v1"); err != nil {
		t.Fatal(err)
	}
	base, err := image.Base(reg.Host+"/base:v1", authn.DefaultKeychain)
	if err != nil {
		t.Fatal(err)
	}
	b, err := image.BuildGo(ctx, "testdata/hello", ".", image.WithBase(base), image.WithBinaryName("hello2"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := image.Publish(ctx, b, reg.Host+"/app", reg.Host+"/app-migration", "v1")
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := b.Service.Layers()
	if len(layers) != 2 || res.Service.LayersUploaded != 1 || res.Migration.LayersUploaded != 0 {
		t.Errorf("layers %d, uploaded service %d migration %d; want 2, 1, 0", len(layers), res.Service.LayersUploaded, res.Migration.LayersUploaded)
	}
	if _, err := image.Base("127.0.0.1:1/nope:v1", authn.DefaultKeychain); err == nil || !strings.Contains(err.Error(), "reading base image") {
		t.Errorf("missing base: %v", err)
	}
}
