package release

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/tandem-ci/tandem/pkg/manifest"
)

// ErrImageMismatch is returned when the manifests would run other images than the ones
// the release pushes: the cluster would pull images nobody pushed.
var ErrImageMismatch = errors.New("manifests reference other images than the release pushes")

// CheckManifests builds the kustomization in dir with the plan's tag and checks that it
// runs exactly the release's images: the Job named p.JobName runs p.MigrationImage, a
// Deployment runs p.ServiceImage, and no container refers to either repository with
// another tag. dir is the manifests folder (e.g. the clone's k8s/).
func CheckManifests(ctx context.Context, dir string, p Plan) error {
	m, err := manifest.BuildWithTag(ctx, dir, p.Tag, manifest.WithOrigins())
	if err != nil {
		return fmt.Errorf("checking the images of %s: %w", p.ManifestsPath, err)
	}
	cs, err := manifest.Containers(m)
	if err != nil {
		return fmt.Errorf("checking the images of %s: %w", p.ManifestsPath, err)
	}
	var problems []string
	var job, svc []manifest.Container
	jobFound := false
	for i := range cs {
		if cs[i].File != "" {
			cs[i].File = path.Join(p.ManifestsPath, cs[i].File)
		}
	}
	for _, c := range cs {
		where := fmt.Sprintf("%s, container %s", c.Where(), c.Container)
		repo, ref := normalize(c.Image)
		for _, want := range []string{p.ServiceImage, p.MigrationImage} {
			wantRepo, wantRef := normalize(want)
			if repo == wantRepo && ref != wantRef {
				problems = append(problems, fmt.Sprintf("%s runs %s, but the release pushes %s", where, c.Image, want))
			}
		}
		switch {
		case c.Kind == "Job" && c.Name == p.JobName:
			jobFound = true
			if !c.Init {
				job = append(job, c)
			}
		case c.Kind == "Deployment" && !c.Init:
			svc = append(svc, c)
		}
	}
	if !jobFound {
		problems = append(problems, fmt.Sprintf("no Job named %s in the build: the waiter waits for that name (name the Job %s- and let the replacement append the tag)", p.JobName, strings.TrimSuffix(p.JobName, "-"+p.Tag)))
	} else if !runs(job, p.MigrationImage) {
		problems = append(problems, mismatch("Job "+p.JobName+" has no container; none", job, p.MigrationImage, "migration"))
	}
	if !runs(svc, p.ServiceImage) {
		problems = append(problems, mismatch("no Deployment", svc, p.ServiceImage, "service"))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s: %w:\n  %s", p.ManifestsPath, ErrImageMismatch, strings.Join(problems, "\n  "))
	}
	return nil
}

func mismatch(what string, cs []manifest.Container, want, role string) string {
	if len(cs) == 0 {
		return fmt.Sprintf("%s runs %s: add it (tandem init writes one)", what, want)
	}
	var got []string
	for _, c := range cs {
		got = append(got, fmt.Sprintf("%s, container %s runs %s", c.Where(), c.Container, c.Image))
	}
	return fmt.Sprintf("%s, but the release pushes %s: point the %s image at the pushed repository (as tandem init writes it from the registry path), or release to the repository the manifests use (the release's %s repository)",
		strings.Join(got, "; "), want, role, role)
}

func runs(cs []manifest.Container, want string) bool {
	_, w := normalize(want)
	for _, c := range cs {
		if _, r := normalize(c.Image); r == w {
			return true
		}
	}
	return false
}

// normalize returns the repository and the full reference in canonical form
// (docker.io/library/x:latest), or the raw string when it does not parse.
func normalize(img string) (repo, ref string) {
	r, err := name.ParseReference(img)
	if err != nil {
		return img, img
	}
	return r.Context().Name(), r.Name()
}
