package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-ci/tandem/internal/testgit"
	"github.com/tandem-ci/tandem/internal/testregistry"
	"github.com/tandem-ci/tandem/pkg/manifest"
)

func TestReleaseCommand(t *testing.T) {
	reg := testregistry.New(t, "ci", "registry-pw")
	git := testgit.NewWithManifests(t, "ci", "git-token", manifest.Spec{App: "shop", Image: reg.Host + "/shop", MigrationCommand: []string{"migrate"}, Tag: "v1.0.0"})
	t.Setenv("TANDEM_REGISTRY_PASSWORD", "registry-pw")
	t.Setenv("TANDEM_GIT_TOKEN", "git-token")
	t.Setenv("CI_PIPELINE_ID", "42")
	t.Setenv("CI_REGISTRY_IMAGE", "")
	t.Setenv("CI_PROJECT_URL", "")
	hello, _ := filepath.Abs("../../pkg/image/testdata/hello")
	args := []string{"release", "--app", "shop", "--source", hello, "--image", reg.Host + "/shop", "--registry-username", "ci",
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
	if res.Tag != "v1.42.0" || res.Commit.Commit != head || res.Artifact.Revision != "main@sha1:"+head || res.Artifact.URL != "oci://"+reg.Host+"/shop-manifests:v1.42.0" {
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
	if out, err = run(t, "push-artifact", "--path", dir, "--image", reg.Host+"/shop", "--registry-username", "ci", "--tag", "v1.43.0", "--revision", "main@sha1:"+head); err != nil || !strings.Contains(out, "artifact done") {
		t.Errorf("push-artifact: %v\n%s", err, out)
	}
	if out, err = run(t, "images", "--source", hello, "--image", reg.Host+"/shop", "--registry-username", "ci", "--tag", "v1.43.0"); err != nil || !strings.Contains(out, "migration layers uploaded: 0") {
		t.Errorf("images: %v\n%s", err, out)
	}
	if _, err = run(t, "push-artifact", "--path", filepath.Join(dir, "missing"), "--image", reg.Host+"/shop", "--tag", "v1"); err == nil || !strings.Contains(err.Error(), "manifests folder not found") {
		t.Errorf("push-artifact of a missing folder: %v", err)
	}
}

// TestWaiterImage builds tandem itself into the waiter image and pushes it.
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
}
