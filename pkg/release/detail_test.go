package release

import (
	"strings"
	"testing"

	"github.com/tandem-ci/tandem/pkg/image"
)

// TestImagesDetail (issue 22, item 5): images another pusher pushed (the Dagger engine)
// do not claim "0 layers uploaded"; tandem's own push states its count.
func TestImagesDetail(t *testing.T) {
	own := image.Result{Service: image.Pushed{Ref: "r/s:v1", Digest: "sha256:a"}, Migration: image.Pushed{Ref: "r/m:v1", Digest: "sha256:a"}}
	if d := imagesDetail(own); !strings.Contains(d, "migration layers uploaded: 0") {
		t.Errorf("own push: %s", d)
	}
	engine := own
	engine.Migration.Uncounted = true
	if d := imagesDetail(engine); strings.Contains(d, "uploaded: 0") || !strings.Contains(d, "not counted") {
		t.Errorf("engine push: %s", d)
	}
}
