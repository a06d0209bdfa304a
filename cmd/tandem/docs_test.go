package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra/doc"
)

// TestCLIDocs: docs/cli/*.md is cobra's reference of every command (doc.GenMarkdownTree,
// as flux2 generates its docs) and must match the code. TANDEM_UPDATE_DOCS=1 rewrites it.
func TestCLIDocs(t *testing.T) {
	update := os.Getenv("TANDEM_UPDATE_DOCS") != ""
	// Flag defaults read GitLab's and tandem's variables: the reference shows none.
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "CI_") || strings.HasPrefix(k, "TANDEM_") || strings.HasPrefix(k, "GITLAB_") {
			t.Setenv(k, "")
		}
	}
	gen := t.TempDir()
	if err := doc.GenMarkdownTree(newRootCmd(), gen); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "docs", "cli")
	if update {
		os.RemoveAll(dir)
		if err := os.CopyFS(dir, os.DirFS(gen)); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, _ := filepath.Glob(filepath.Join(gen, "*.md"))
	have, _ := filepath.Glob(filepath.Join(dir, "*.md"))
	if len(want) != len(have) {
		t.Errorf("docs/cli has %d pages, the commands make %d: run TANDEM_UPDATE_DOCS=1 go test ./cmd/tandem -run TestCLIDocs", len(have), len(want))
	}
	for _, w := range want {
		g, _ := os.ReadFile(w)
		h, err := os.ReadFile(filepath.Join(dir, filepath.Base(w)))
		if err != nil || !bytes.Equal(g, h) {
			t.Errorf("docs/cli/%s is stale: run TANDEM_UPDATE_DOCS=1 go test ./cmd/tandem -run TestCLIDocs", filepath.Base(w))
		}
	}
}
