package main

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ci/tandem/internal/testgit"
	"github.com/tandem-ci/tandem/internal/testregistry"
	"github.com/tandem-ci/tandem/pkg/manifest"
	"github.com/tandem-ci/tandem/pkg/status"
)

// TestStatusWithoutCluster (issue 24): against the loopback registry and git server only,
// `tandem status` answers for git and the registry and says the cluster was not asked;
// a branch ahead of its artifact is inconsistent (exit 3); --history lists the releases
// and whether their images are still in the registry.
func TestStatusWithoutCluster(t *testing.T) {
	reg := testregistry.New(t, "", "")
	k8s, err := manifest.Files(manifest.Spec{App: "shop", Image: reg.Host + "/shop", MigrationCommand: []string{"/app/hello", "migrate"}, Tag: "v1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	git := testgit.New(t, "ci", "git-token", testgit.Under("k8s", k8s))
	t.Setenv("TANDEM_GIT_TOKEN", "git-token")
	t.Setenv("CI_PROJECT_URL", "")
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	hello, _ := filepath.Abs("../../pkg/image/testdata/hello")
	common := []string{"--app", "shop", "--registry", reg.Host, "--repo-url", git.RepoURL, "--branch", "main", "--git-username", "ci"}
	if out, err := run(t, append([]string{"release", "--source", hello, "--checkout", t.TempDir(), "--tag", "v1.1.0"}, common...)...); err != nil {
		t.Fatalf("release: %v\n%s", err, out)
	}
	start := time.Now()
	out, err := run(t, append([]string{"status", "-o", "json", "--history", "3"}, common...)...)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	var rep status.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rep.State != status.StateConsistent || rep.Tag != "v1.1.0" || rep.Cluster != nil || !strings.Contains(rep.Verdict, "the cluster was not asked") ||
		!strings.HasPrefix(rep.Images.Service, reg.Host+"/shop:v1.1.0@sha256:") || !strings.Contains(rep.Artifact.Revision, "main@sha1:") {
		t.Errorf("status = %+v", rep)
	}
	if len(rep.History) != 2 || rep.History[0].Tag != "v1.1.0" || !rep.History[0].InRegistry || rep.History[1].Tag != "v1.0.0" || rep.History[1].InRegistry {
		t.Errorf("history = %+v", rep.History)
	}
	t.Logf("status without a cluster answered in %s (in-process: %s)", took.Round(time.Millisecond), rep.Duration.Round(time.Millisecond))

	// The branch moves on without an artifact: inconsistent, exit 3, saying what is missing.
	if out, err := run(t, append([]string{"commit", "--tag", "v1.2.0"}, common...)...); err != nil {
		t.Fatalf("commit: %v\n%s", err, out)
	}
	out, err = run(t, append([]string{"status"}, common...)...)
	var exit *exitError
	if !errors.As(err, &exit) || exit.code != 3 || !strings.Contains(out, "v1.2.0: images of v1.2.0 missing from the registry") || !strings.Contains(out, "cluster    not asked") {
		t.Errorf("status of a branch ahead of its artifact = %v\n%s", err, out)
	}
}
