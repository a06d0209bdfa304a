package image_test

import (
	"archive/tar"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/tandem-ci/tandem/internal/testregistry"
	"github.com/tandem-ci/tandem/pkg/image"
)

// TestFromArchive (issue 22, item 3): an image the Dagger engine exports (an OCI layout
// tar, read back with its digest) or `docker save` writes (its config) is read back; a
// tar of neither is refused.
func TestFromArchive(t *testing.T) {
	img := build(t).Service
	want, _ := img.Digest()
	wantConfig, _ := img.ConfigName()
	dir := t.TempDir()

	// Save writes an OCI layout tar, as the engine's asTarball does.
	reg := testregistry.New(t, "", "")
	if _, err := image.Push(context.Background(), img, reg.Host+"/shop:v1"); err != nil {
		t.Fatal(err)
	}
	saved := filepath.Join(dir, "saved.tar")
	if err := image.Save(context.Background(), reg.Host+"/shop:v1", saved); err != nil {
		t.Fatal(err)
	}
	dockerTar := filepath.Join(dir, "docker.tar")
	if err := tarball.WriteToFile(dockerTar, name.MustParseReference("shop:v1"), img); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{saved, dockerTar} {
		got, cleanup, err := image.FromArchive(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		// An OCI layout keeps the manifest (so the digest); docker save keeps the config.
		if d, _ := got.Digest(); path != dockerTar && d != want {
			t.Errorf("%s: digest %s, want %s", filepath.Base(path), d, want)
		}
		if c, _ := got.ConfigName(); c != wantConfig {
			t.Errorf("%s: config %s, want %s", filepath.Base(path), c, wantConfig)
		}
		cleanup()
	}
	other := filepath.Join(dir, "other.tar")
	f, _ := os.Create(other)
	tw := tar.NewWriter(f)
	tw.WriteHeader(&tar.Header{Name: "README", Mode: 0o644, Typeflag: tar.TypeReg})
	tw.Close()
	f.Close()
	if _, _, err := image.FromArchive(other); err == nil || !strings.Contains(err.Error(), "neither an OCI layout") {
		t.Errorf("a tar of no image: %v", err)
	}
}

// TestRedirect: a push to a registry named registry.example:5000 lands in the registry
// the name is redirected to (a Dagger service's endpoint), and the reference keeps its name.
func TestRedirect(t *testing.T) {
	reg := testregistry.New(t, "", "")
	img := build(t).Service
	pushed, err := image.Push(context.Background(), img, "registry.example:5000/acme/shop:v1",
		image.WithTransport(image.Redirect("registry.example:5000", reg.Host, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if d, err := crane.Digest(reg.Host + "/acme/shop:v1"); err != nil || d != pushed.Digest || pushed.Ref != "registry.example:5000/acme/shop:v1" {
		t.Errorf("pushed %+v; the registry has %s (%v)", pushed, d, err)
	}
}
