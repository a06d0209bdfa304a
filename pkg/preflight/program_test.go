package preflight_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/tandem-ci/tandem/internal/testregistry"
	"github.com/tandem-ci/tandem/pkg/preflight"
)

// TestCommandNeedsContainer: what cannot run outside a container is refused with
// ErrNeedsContainer, naming the image and why, before anything runs.
func TestCommandNeedsContainer(t *testing.T) {
	reg := testregistry.New(t, "", "")
	hostTrue, err := os.ReadFile("/bin/true") // dynamically linked on Debian
	if err != nil {
		t.Skip(err)
	}
	cases := []struct {
		name    string
		files   map[string][]byte
		link    [2]string // symlink name -> target
		argv    []string
		message string
	}{
		{"script", map[string][]byte{"app/migrate.sh": []byte("#!/bin/sh\necho hi\n")}, [2]string{}, []string{"/app/migrate.sh"}, "is not an ELF executable"},
		{"dynamic binary", map[string][]byte{"bin/true": hostTrue}, [2]string{}, []string{"/bin/true"}, "is dynamically linked"},
		{"missing executable", map[string][]byte{"app/x": []byte("x")}, [2]string{}, []string{"/app/migrate"}, "has no executable /app/migrate"},
		{"not on the image's PATH", map[string][]byte{"app/x": []byte("x")}, [2]string{}, []string{"migrate"}, "has no executable migrate"},
		{"no command", map[string][]byte{"app/x": []byte("x")}, [2]string{}, nil, "has no command"},
		{"symlink out of the image", map[string][]byte{"app/x": []byte("x")}, [2]string{"app/run", "../../../../bin/true"}, []string{"/app/run"}, "is dynamically linked"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			layer, err := crane.Layer(c.files)
			if err != nil {
				t.Fatal(err)
			}
			img, err := mutate.AppendLayers(empty.Image, layer)
			if err != nil {
				t.Fatal(err)
			}
			ref := reg.Host + "/tool:" + strings.NewReplacer(" ", "-", "'", "").Replace(c.name)
			if err := crane.Push(img, ref); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			p, err := preflight.Fetch(context.Background(), ref, authn.DefaultKeychain, dir)
			if err != nil {
				t.Fatal(err)
			}
			if c.link[0] != "" {
				if err := os.Symlink(c.link[1], dir+"/"+c.link[0]); err != nil {
					t.Fatal(err)
				}
				// The link is read inside the image: /bin/true of the image, which is absent.
				c.message = "has no executable"
			}
			_, err = p.Command(context.Background(), c.argv, nil)
			if !errors.Is(err, preflight.ErrNeedsContainer) || !strings.Contains(err.Error(), c.message) {
				t.Fatalf("Command(%q) = %v, want ErrNeedsContainer saying %q", c.argv, err, c.message)
			}
			if !strings.Contains(err.Error(), ref) && c.argv != nil {
				t.Errorf("error does not name the image %s: %v", ref, err)
			}
		})
	}
	if _, err := preflight.Fetch(context.Background(), reg.Host+"/tool:absent", authn.DefaultKeychain, t.TempDir()); !errors.Is(err, preflight.ErrNoImage) {
		t.Errorf("Fetch of an absent tag = %v, want ErrNoImage", err)
	}
}

// TestUntarStaysInside: an image whose entries climb out of it is refused, nothing
// written outside.
func TestUntarStaysInside(t *testing.T) {
	reg := testregistry.New(t, "", "")
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range []string{"../../escape", "/abs/file"} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: 1, Typeflag: tar.TypeReg})
		tw.Write([]byte("x"))
	}
	tw.Close()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, _ := mutate.AppendLayers(empty.Image, layer)
	ref := reg.Host + "/evil:v1"
	if err := crane.Push(img, ref); err != nil {
		t.Fatal(err)
	}
	parent := t.TempDir()
	dir := parent + "/root"
	_, err = preflight.Fetch(context.Background(), ref, authn.DefaultKeychain, dir)
	if err == nil || !strings.Contains(err.Error(), "unsafe tar path") || !strings.Contains(err.Error(), ref) {
		t.Errorf("Fetch of an image with ../ entries = %v, want it refused naming the image", err)
	}
	if _, err := os.Stat(parent + "/escape"); err == nil {
		t.Error("an entry escaped the unpacked image")
	}
}
