package release_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fluxcd/pkg/oci"

	"github.com/tandem-ci/tandem/internal/testregistry"
	"github.com/tandem-ci/tandem/pkg/artifact"
	"github.com/tandem-ci/tandem/pkg/manifest"
	"github.com/tandem-ci/tandem/pkg/release"
	"github.com/tandem-ci/tandem/pkg/variables"
)

// TestArtifactRunsItsTag (issue 19, item 1): a folder still holding the checkout's old
// IMAGE_TAG is shipped under the release tag with that tag set, never with the old one
// (Flux's semver would pick the artifact and roll the app back); the folder is untouched.
func TestArtifactRunsItsTag(t *testing.T) {
	reg := testregistry.New(t, "", "")
	dir := t.TempDir()
	if _, err := manifest.Render(dir, manifest.Spec{App: "shop", Image: reg.Host + "/shop", MigrationCommand: []string{"m"}, Tag: "v0.1.0"}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "deployment-variables.yaml"))
	a := &release.FluxArtifacts{Repository: reg.Host + "/shop/manifests", Options: []artifact.Option{artifact.WithInsecure()}}
	res, err := a.PushArtifact(context.Background(), dir, "v1.20.0", "main@sha1:0123")
	if err != nil {
		t.Fatal(err)
	}
	if res.ImageTagFrom != "v0.1.0" {
		t.Errorf("ImageTagFrom = %q, want v0.1.0", res.ImageTagFrom)
	}
	pulled := pull(t, reg.Host+"/shop/manifests:v1.20.0")
	if v, err := variables.ReadFile(filepath.Join(pulled, "deployment-variables.yaml")); err != nil || v != "v1.20.0" {
		t.Errorf("artifact v1.20.0 holds IMAGE_TAG %q (%v)", v, err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "deployment-variables.yaml")); string(after) != string(before) {
		t.Error("the folder itself was changed")
	}
	// A folder already at the tag is shipped as it is.
	variables.SetFile(filepath.Join(dir, "deployment-variables.yaml"), "v1.21.0")
	if res, err := a.PushArtifact(context.Background(), dir, "v1.21.0", ""); err != nil || res.ImageTagFrom != "" {
		t.Errorf("folder at the tag: %+v, %v", res, err)
	}
}

// TestArtifactRefusesBadFolders (items 4 and 7): an empty build is refused before any
// registry request; .git is never shipped, whatever the ignore list says.
func TestArtifactRefusesBadFolders(t *testing.T) {
	reg := testregistry.New(t, "", "")
	a := func(opts ...artifact.Option) *release.FluxArtifacts {
		return &release.FluxArtifacts{Repository: reg.Host + "/m", Options: append([]artifact.Option{artifact.WithInsecure()}, opts...)}
	}
	for name, files := range map[string]map[string]string{
		"resources: []":      {"kustomization.yaml": "resources: []\n"},
		"no resources key":   {"kustomization.yaml": "namespace: shop\n", "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"},
		"only an empty file": {"kustomization.yaml": "resources: [empty.yaml]\n", "empty.yaml": "# nothing\n"},
	} {
		dir := t.TempDir()
		for f, c := range files {
			os.WriteFile(filepath.Join(dir, f), []byte(c), 0o644)
		}
		before := reg.Requests.Load()
		_, err := a().PushArtifact(context.Background(), dir, "v1.0.0", "")
		if !errors.Is(err, manifest.ErrEmpty) || !strings.Contains(err.Error(), "prune") {
			t.Errorf("%s: %v", name, err)
		}
		if n := reg.Requests.Load() - before; n != 0 {
			t.Errorf("%s: %d registry requests", name, n)
		}
	}

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte("resources: [cm.yaml]\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "cm.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, ".git"), 0o755)
	os.WriteFile(filepath.Join(dir, ".git", "config"), []byte("[remote \"origin\"]\n\turl = https://ci:glpat-secret@git.example.com/x.git\n"), 0o644)
	for _, ignore := range [][]string{nil, {"!.git/config"}, {"!.git/", "!.git/config", "!.git"}} {
		tag := "v1.0." + string(rune('0'+len(ignore)))
		if _, err := a(artifact.WithIgnore(ignore...)).PushArtifact(context.Background(), dir, tag, ""); err != nil {
			t.Fatal(err)
		}
		pulled := pull(t, reg.Host+"/m:"+tag)
		if _, err := os.Stat(filepath.Join(pulled, ".git")); err == nil {
			t.Errorf("--ignore %q shipped .git", ignore)
		}
		if _, err := os.Stat(filepath.Join(pulled, "cm.yaml")); err != nil {
			t.Errorf("--ignore %q: cm.yaml missing", ignore)
		}
	}
}

// pull fetches the artifact at ref from an anonymous registry into a new folder.
func pull(t *testing.T, ref string) string {
	t.Helper()
	out := t.TempDir()
	if _, err := oci.NewClient(nil).Pull(context.Background(), ref, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestChecksBeforeBuilding (issue 19, item 11): a missing branch, a missing variables
// file, a refused token and a newer tag on the branch are found before any image is
// built or pushed (no registry request), and the branch is untouched.
func TestChecksBeforeBuilding(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*release.Config)
		tag  string
		want string
	}{
		{"missing branch", func(c *release.Config) { c.Branch = "nope" }, "v1.42.0", "branch not found"},
		{"missing file", func(c *release.Config) { c.VariablesFile = "k8s/missing.yaml" }, "v1.42.0", "k8s/missing.yaml"},
		{"refused token", func(c *release.Config) { c.GitToken = "wrong" }, "v1.42.0", "git authentication failed"},
		{"superseded", func(*release.Config) {}, "v0.9.0", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, "k8s", "")
			c.edit(&e.cfg)
			res, err := e.release(t, c.tag).Run(context.Background())
			if c.want == "" {
				if err != nil || !res.Superseded || res.Images != nil {
					t.Errorf("superseded release = %+v, %v", res, err)
				}
			} else if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("release = %v, want %q", err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), "tandem-gitops") {
				t.Errorf("the error shows the temporary clone: %v", err)
			}
			if n := e.reg.Requests.Load(); n != 0 {
				t.Errorf("%d registry requests: images were built and pushed first", n)
			}
			if e.git.Git(t, "rev-list", "--count", "main") != "1" {
				t.Error("the branch moved")
			}
		})
	}
}
