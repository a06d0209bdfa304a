package errmsg_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tandem-ci/tandem/internal/errmsg"
)

func TestReplace(t *testing.T) {
	sentinel := errors.New("sentinel")
	err := fmt.Errorf("token s3cret: %w", sentinel)
	got := errmsg.Replace(err, func(s string) string { return strings.ReplaceAll(s, "s3cret", "***") })
	if got.Error() != "token ***: sentinel" || !errors.Is(got, sentinel) {
		t.Errorf("Replace = %q (is sentinel: %v)", got, errors.Is(got, sentinel))
	}
	if same := errmsg.Replace(err, strings.TrimSpace); same != err {
		t.Errorf("an unchanged message wrapped the error: %v", same)
	}
}
