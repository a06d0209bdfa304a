package manifest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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
		err := testnet.Within(t, 30*time.Second, func() error { _, err := manifest.Build(context.Background(), dir); return err })
		if !errors.Is(err, manifest.ErrRemoteBase) || !strings.Contains(err.Error(), remote) {
			t.Errorf("%s: %v", remote, err)
		}
	}
	// A missing local file is kustomize's own error, not a remote base.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte("resources:\n  - deploymnt.yaml\n"), 0o644)
	if _, err := manifest.Build(context.Background(), dir); err == nil || errors.Is(err, manifest.ErrRemoteBase) {
		t.Errorf("missing local file: %v", err)
	}
}

// TestRemoteReferencesRefusedEverywhere (issue 19, item 3): every field kustomize loads a
// path from refuses a URL or git reference, without a request (the server never
// answers: a fetch would hang the build), naming the field and the entry.
func TestRemoteReferencesRefusedEverywhere(t *testing.T) {
	silent := testnet.Silent(t)
	url := "http://" + silent + "/x.yaml"
	git := "https://github.com/acme/base//k8s?ref=v1"
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"
	for _, c := range []struct{ field, kustomization string }{
		{"configurations", "resources: [cm.yaml]\nconfigurations:\n  - " + url + "\n"},
		{"crds", "resources: [cm.yaml]\ncrds:\n  - " + url + "\n"},
		{"generators", "generators:\n  - " + url + "\n"},
		{"generators", "generators:\n  - " + git + "\n"},
		{"transformers", "resources: [cm.yaml]\ntransformers:\n  - " + url + "\n"},
		{"validators", "resources: [cm.yaml]\nvalidators:\n  - " + url + "\n"},
		{"openapi.path", "resources: [cm.yaml]\nopenapi:\n  path: " + url + "\n"},
		{"patches[].path", "resources: [cm.yaml]\npatches:\n  - path: " + url + "\n"},
		{"patchesStrategicMerge", "resources: [cm.yaml]\npatchesStrategicMerge:\n  - " + url + "\n"},
		{"patchesJson6902[].path", "resources: [cm.yaml]\npatchesJson6902:\n  - target: {kind: ConfigMap, name: x, version: v1}\n    path: " + url + "\n"},
		{"replacements[].path", "resources: [cm.yaml]\nreplacements:\n  - path: " + url + "\n"},
		{"configMapGenerator/secretGenerator files", "configMapGenerator:\n  - name: g\n    files: [key=" + url + "]\n"},
		{"configMapGenerator/secretGenerator envs", "secretGenerator:\n  - name: g\n    envs: [" + url + "]\n"},
		{"resources", "resources:\n  - " + url + "\n"},
		{"components", "resources: [cm.yaml]\ncomponents:\n  - " + git + "\n"},
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "cm.yaml"), []byte(cm), 0o644)
		os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(c.kustomization), 0o644)
		err := testnet.Within(t, 30*time.Second, func() error { _, err := manifest.Build(context.Background(), dir); return err })
		if !errors.Is(err, manifest.ErrRemoteBase) || !strings.Contains(err.Error(), c.field+" lists") {
			t.Errorf("%s: %v", c.field, err)
		}
	}
	// Inline patches and local files are not remote.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "cm.yaml"), []byte(cm), 0o644)
	os.WriteFile(filepath.Join(dir, "p.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: b\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte("resources: [cm.yaml]\npatches:\n  - path: p.yaml\n  - patch: |-\n      apiVersion: v1\n      kind: ConfigMap\n      metadata:\n        name: x\n      data:\n        c: http://example.com/d\n"), 0o644)
	if _, err := manifest.Build(context.Background(), dir); err != nil {
		t.Errorf("local and inline patches: %v", err)
	}
}

// TestBuildHonoursContext: a build stuck on a file that never ends (a FIFO) returns as
// soon as its context ends.
func TestBuildHonoursContext(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "stuck.yaml"), 0o644); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte("resources: [stuck.yaml]\n"), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := testnet.Within(t, 10*time.Second, func() error { _, err := manifest.Build(ctx, dir); return err })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("build of a FIFO = %v, want the deadline", err)
	}
	// Unblock the FIFO's reader so the abandoned build ends with the test.
	if f, err := os.OpenFile(filepath.Join(dir, "stuck.yaml"), os.O_WRONLY, 0); err == nil {
		f.Close()
	}
}
