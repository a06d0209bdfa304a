package tag

import (
	"errors"
	"fmt"

	"github.com/Masterminds/semver/v3"
)

// ErrIncomparable is returned by Compare when the two tags are not both semantic versions.
var ErrIncomparable = errors.New("tags are not both semantic versions")

// Compare orders two tags: -1 when a is older than b, 0 when equal, +1 when newer.
// Equal strings compare equal; otherwise both must parse as semantic versions (with or
// without the leading "v").
func Compare(a, b string) (int, error) {
	if a == b {
		return 0, nil
	}
	va, errA := semver.StrictNewVersion(trimV(a))
	vb, errB := semver.StrictNewVersion(trimV(b))
	if errA != nil || errB != nil {
		return 0, fmt.Errorf("comparing %q with %q: %w", a, b, ErrIncomparable)
	}
	return va.Compare(vb), nil
}

func trimV(s string) string {
	if len(s) > 1 && s[0] == 'v' {
		return s[1:]
	}
	return s
}

// IsSemver reports whether t is a strict semantic version (with or without "v").
func IsSemver(t string) bool {
	_, err := semver.StrictNewVersion(trimV(t))
	return err == nil
}
