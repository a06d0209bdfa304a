package artifact

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fluxcd/pkg/oci"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// assemble builds the artifact of dir here, as fluxcd/pkg/oci's Client.Push builds it
// (its Build for the layer, then the same config, media types and annotations), so its
// digest is known before any request: an unchanged artifact costs one HEAD, and a changed
// one is tarred once. TestAssembleIsFluxPush keeps the two byte-identical. cleanup
// removes the layer's file once the image is pushed.
func assemble(c *oci.Client, dir string, ignore []string, meta oci.Metadata) (img v1.Image, cleanup func(), err error) {
	tmp, err := os.MkdirTemp("", "tandem-artifact-")
	if err != nil {
		return nil, func() {}, err
	}
	cleanup = func() { os.RemoveAll(tmp) }
	tgz := filepath.Join(tmp, "artifact.tgz")
	if err := c.Build(tgz, dir, ignore); err != nil {
		return nil, cleanup, fmt.Errorf("building the artifact of %s: %w", dir, err)
	}
	layer, err := tarball.LayerFromFile(tgz, tarball.WithMediaType(oci.CanonicalContentMediaType), tarball.WithCompressedCaching)
	if err != nil {
		return nil, cleanup, err
	}
	annotations := meta.ToAnnotations()
	created, err := time.Parse(time.RFC3339, annotations[oci.CreatedAnnotation])
	if err != nil {
		return nil, cleanup, fmt.Errorf("invalid created timestamp %q: %w", annotations[oci.CreatedAnnotation], err)
	}
	cf, err := empty.Image.ConfigFile()
	if err != nil {
		return nil, cleanup, err
	}
	cf.Created = v1.Time{Time: created}
	if img, err = mutate.ConfigFile(empty.Image, cf); err != nil {
		return nil, cleanup, err
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, oci.CanonicalConfigMediaType)
	img = mutate.Annotations(img, annotations).(v1.Image)
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer})
	return img, cleanup, err
}
