package atomicfile_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/tandem-ci/tandem/internal/atomicfile"
)

// TestWriteKeepsOwnerAndMode: rewriting another user's file (as root) keeps its owner,
// group and mode.
func TestWriteKeepsOwnerAndMode(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to own a file as another user")
	}
	p := filepath.Join(t.TempDir(), "deployment-variables.yaml")
	if err := os.WriteFile(p, []byte("old\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, 1234, 2345); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.Write(p, []byte("new\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := info.Sys().(*syscall.Stat_t)
	if st.Uid != 1234 || st.Gid != 2345 || info.Mode().Perm() != 0o640 {
		t.Errorf("after Write: owner %d:%d mode %s, want 1234:2345 -rw-r-----", st.Uid, st.Gid, info.Mode().Perm())
	}
	if b, _ := os.ReadFile(p); string(b) != "new\n" {
		t.Errorf("content = %q", b)
	}
}
