package preflight

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestLinkTree: a second image with the same layers gets hard links to the first one's
// files (no second decompression), its own folders (a file it creates stays its own), and
// links that point into its own root.
func TestLinkTree(t *testing.T) {
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "image-2")
	os.MkdirAll(filepath.Join(src, "app", "etc"), 0o755)
	os.WriteFile(filepath.Join(src, "app", "notes"), []byte("binary"), 0o755)
	os.Symlink(filepath.Join(src, "app", "notes"), filepath.Join(src, "app", "abs")) // as untar points /app/notes
	os.Symlink("notes", filepath.Join(src, "app", "rel"))
	if err := linkTree(src, dst); err != nil {
		t.Fatal(err)
	}
	a, _ := os.Stat(filepath.Join(src, "app", "notes"))
	b, err := os.Stat(filepath.Join(dst, "app", "notes"))
	if err != nil || a.Sys().(*syscall.Stat_t).Ino != b.Sys().(*syscall.Stat_t).Ino || b.Mode().Perm() != 0o755 {
		t.Errorf("app/notes in the copy: %v, %v; want a hard link, mode 0755", b, err)
	}
	for link, want := range map[string]string{"abs": filepath.Join(dst, "app", "notes"), "rel": "notes"} {
		if got, _ := os.Readlink(filepath.Join(dst, "app", link)); got != want {
			t.Errorf("app/%s links to %q, want %q", link, got, want)
		}
	}
	if fi, err := os.Stat(filepath.Join(dst, "app", "etc")); err != nil || !fi.IsDir() {
		t.Errorf("app/etc in the copy: %v", err)
	}
	os.WriteFile(filepath.Join(dst, "app", "etc", "cache"), []byte("x"), 0o644)
	if _, err := os.Stat(filepath.Join(src, "app", "etc", "cache")); err == nil {
		t.Error("a file created in the copy appeared in the original")
	}
}
