//go:build unix

package atomicfile

import (
	"fmt"
	"os"
	"syscall"
)

// keepOwner gives tmp the owner and group of the file at path (run as root, a rewrite
// must not leave another user's file root-owned). Without the privilege to chown, the
// file keeps ours only when it was ours already; otherwise that is an error.
func keepOwner(tmp *os.File, path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return nil // a new file
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if int(st.Uid) == os.Geteuid() && int(st.Gid) == os.Getegid() {
		return nil
	}
	if err := tmp.Chown(int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("keeping owner %d:%d of %s: %w", st.Uid, st.Gid, path, err)
	}
	return nil
}
