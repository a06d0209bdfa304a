package manifest_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ci/tandem/internal/testnet"
	"github.com/tandem-ci/tandem/pkg/manifest"
)

// TestRemoteBasesRefused: a kustomization listing a remote base fails at once, without
// DNS or git (a server that never answers would hang the build), and names the entry.
func TestRemoteBasesRefused(t *testing.T) {
	silent := testnet.Silent(t)
	for _, remote := range []string{
		"http://" + silent + "/repo.git//k8s?ref=v1",
		"https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v3.3.1",
		"github.com/kubernetes-sigs/kustomize/examples/multibases",
		"git@github.com:acme/base.git",
	} {
		dir := t.TempDir()
		base := filepath.Join(dir, "base")
		os.MkdirAll(base, 0o755)
		os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte("resources:\n  - base\n"), 0o644)
		// The remote entry hides one level down, in a local base.
		os.WriteFile(filepath.Join(base, "kustomization.yaml"), []byte("resources:\n  - "+remote+"\n"), 0o644)
		err := testnet.Within(t, 30*time.Second, func() error { _, err := manifest.Build(dir); return err })
		if !errors.Is(err, manifest.ErrRemoteBase) || !strings.Contains(err.Error(), remote) {
			t.Errorf("%s: %v", remote, err)
		}
	}
	// A missing local file is kustomize's own error, not a remote base.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte("resources:\n  - deploymnt.yaml\n"), 0o644)
	if _, err := manifest.Build(dir); err == nil || errors.Is(err, manifest.ErrRemoteBase) {
		t.Errorf("missing local file: %v", err)
	}
}
