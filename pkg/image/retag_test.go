package image_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/crane"

	"github.com/tandem-ci/tandem/internal/testregistry"
	"github.com/tandem-ci/tandem/pkg/image"
)

// TestRetag: the rollback's images are the target's manifests under a new tag, written
// with two manifest PUTs and no blob; a re-run writes nothing new; a tag naming other
// images, or a target that is gone, is refused before any tag is written.
func TestRetag(t *testing.T) {
	reg := testregistry.New(t, "", "")
	ctx := context.Background()
	svc, mig := reg.Host+"/shop", reg.Host+"/shop-migration"
	v1, err := image.Publish(ctx, build(t), svc, mig, "v1.1.0")
	if err != nil {
		t.Fatal(err)
	}
	writes := reg.Writes.Load()
	res, err := image.Retag(ctx, svc, mig, "v1.1.0", "v1.3.0")
	if err != nil {
		t.Fatal(err)
	}
	if res.Service.Digest != v1.Service.Digest || res.Migration.Digest != v1.Migration.Digest || res.Service.Ref != svc+":v1.3.0" {
		t.Errorf("retag = %+v, want v1.1.0's digests %s %s under v1.3.0", res, v1.Service.Digest, v1.Migration.Digest)
	}
	for _, ref := range []string{svc + ":v1.3.0", mig + ":v1.3.0"} {
		if d, err := crane.Digest(ref); err != nil || (d != v1.Service.Digest && d != v1.Migration.Digest) {
			t.Errorf("%s = %s (%v)", ref, d, err)
		}
	}
	if n := reg.Writes.Load() - writes; n != 2 {
		t.Errorf("retag made %d writes (%v), want 2 manifest PUTs", n, reg.Written())
	}
	for _, w := range reg.Written()[writes:] {
		if !strings.Contains(w, "/manifests/v1.3.0") {
			t.Errorf("retag wrote %s", w)
		}
	}
	if _, err := image.Retag(ctx, svc, mig, "v1.1.0", "v1.3.0"); err != nil {
		t.Errorf("re-run: %v", err)
	}

	// Bad input: nothing is written.
	other, err := image.BuildGo(ctx, "testdata/hello", ".", image.WithBinaryName("hello"), image.WithArgs("other"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := image.Publish(ctx, other, svc, mig, "v1.2.0"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, from, to string
		want           error
		says           string
	}{
		{"tag taken", "v1.1.0", "v1.2.0", image.ErrTagTaken, "pick a new tag"},
		{"target gone", "v0.9.0", "v1.4.0", image.ErrNotFound, svc + ":v0.9.0"},
		{"bad tag", "v1.1.0", "bad tag!", nil, "parsing image"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := reg.Writes.Load()
			_, err := image.Retag(ctx, svc, mig, c.from, c.to)
			if err == nil || (c.want != nil && !errors.Is(err, c.want)) || !strings.Contains(err.Error(), c.says) {
				t.Errorf("Retag %s -> %s = %v, want %v saying %q", c.from, c.to, err, c.want, c.says)
			}
			if n := reg.Writes.Load() - before; n != 0 {
				t.Errorf("%d writes after a refused retag", n)
			}
		})
	}
}
