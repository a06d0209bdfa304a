// Package tarx holds what unpacking a tar entry onto disk takes, shared by the readers
// of image archives (pkg/image) and image layers (pkg/preflight).
package tarx

import (
	"io"
	"os"
	"path/filepath"
)

// WriteFile writes the entry's content from r to target with mode, creating its folder.
func WriteFile(target string, r io.Reader, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
