package release_test

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/tandem-ci/tandem/internal/testgit"
	"github.com/tandem-ci/tandem/internal/testnet"
	"github.com/tandem-ci/tandem/internal/testregistry"
	"github.com/tandem-ci/tandem/pkg/image"
	"github.com/tandem-ci/tandem/pkg/manifest"
	"github.com/tandem-ci/tandem/pkg/release"
	"github.com/tandem-ci/tandem/pkg/tag"
)

// TestReleaseUnderFaults releases through proxies that answer 503, reset connections,
// stall and cut responses off for a share of the requests to the registry and the git
// server. Every release either succeeds (through retries) or fails with a message
// within its step deadline; every tag a commit put on the branch has both images,
// complete, in the registry; no temporary clone or build folder is left behind.
func TestReleaseUnderFaults(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	reg := testregistry.New(t, "ci", "registry-pw")
	regProxy := testnet.NewFaultProxy(t, reg.URL, 7, 0.15, 10*time.Second, testnet.Status503, testnet.Reset, testnet.Stall, testnet.DropBody)
	git := testgit.New(t, "ci", "git-token", testgit.Under("k8s", files(t, manifest.Spec{App: "shop", Image: regProxy.Host + "/shop", MigrationCommand: []string{"/app/hello", "migrate"}, Tag: "v1.0.0"})))
	gitProxy := testnet.NewFaultProxy(t, strings.TrimSuffix(git.RepoURL, "/repo.git"), 11, 0.15, 10*time.Second, testnet.Status503, testnet.Reset, testnet.Stall, testnet.DropBody)
	kc := image.Keychain(image.Credentials{Username: "ci", Password: "registry-pw"}, func(string) string { return "" })
	hello, _ := filepath.Abs("../image/testdata/hello")

	var ok, failed int
	for i := 1; i <= 6; i++ {
		p, err := release.Resolve(release.Config{App: "shop", Registry: regProxy.Host, Tag: tag.Config{Explicit: "v1." + string(rune('0'+i)) + ".0"},
			RepoURL: gitProxy.URL + "/repo.git", Branch: "main", GitUsername: "ci", GitToken: "git-token"})
		if err != nil {
			t.Fatal(err)
		}
		r, err := release.Build(context.Background(), p, release.Setup{Registry: release.Registry{Keychain: kc}, Source: hello, Timeout: 3 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		err = testnet.Within(t, 2*time.Minute, func() error { _, err := r.Run(context.Background()); return err })
		if err != nil {
			failed++
			if msg := err.Error(); len(msg) < 20 || strings.Contains(msg, "git-token") || strings.Contains(msg, "registry-pw") {
				t.Errorf("release %s failed unclearly or leaked a secret: %q", p.Tag, msg)
			}
			t.Logf("release %s failed: %v", p.Tag, err)
			continue
		}
		ok++
	}
	t.Logf("%d releases succeeded, %d failed; registry faults %d (503 %d, reset %d, stall %d, drop %d), git faults %d",
		ok, failed, regProxy.Injected(), regProxy.Counts[testnet.Status503].Load(), regProxy.Counts[testnet.Reset].Load(),
		regProxy.Counts[testnet.Stall].Load(), regProxy.Counts[testnet.DropBody].Load(), gitProxy.Injected())
	if regProxy.Injected() == 0 || gitProxy.Injected() == 0 {
		t.Fatal("no fault was injected: the test proved nothing")
	}
	// The retries are what this test exists for: with 15% of the requests failing, a
	// release must get through (the test passed when every release failed).
	if ok == 0 {
		t.Fatalf("none of %d releases succeeded through the faults: the retries do not work", failed)
	}

	// Every tag ever committed has both images, complete, in the registry (read directly).
	history := git.Git(t, "log", "-p", "--format=", "main", "--", "k8s/deployment-variables.yaml")
	tags := regexp.MustCompile(`(?m)^\+\s*IMAGE_TAG: "([^"]+)"`).FindAllStringSubmatch(history, -1)
	for _, m := range tags {
		if m[1] == "v1.0.0" {
			continue
		}
		for _, repo := range []string{"shop", "shop-migration"} {
			img, err := crane.Pull(reg.Host+"/"+repo+":"+m[1], crane.WithAuth(basic("ci", "registry-pw")))
			if err != nil {
				t.Errorf("committed tag %s: %s: %v", m[1], repo, err)
				continue
			}
			if err := validate.Image(img); err != nil {
				t.Errorf("committed tag %s: %s is incomplete: %v", m[1], repo, err)
			}
		}
	}
	t.Logf("%d tags committed", len(tags)-1)
	left, _ := filepath.Glob(filepath.Join(tmp, "tandem-*"))
	if len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}
