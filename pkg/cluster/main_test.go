package cluster_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/tandem-ci/tandem/internal/testcluster"
)

// shared is one control plane (no controllers) for the tests of this package that act
// as the controllers themselves; nil when the binaries are missing.
var shared *testcluster.Cluster

func TestMain(m *testing.M) {
	if _, ok := testcluster.Dir(); ok {
		c, err := testcluster.Start()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		shared = c
	}
	code := m.Run()
	if shared != nil {
		shared.Stop()
	}
	os.Exit(code)
}

func controlPlane(t *testing.T) *testcluster.Cluster {
	t.Helper()
	testcluster.Require(t)
	return shared
}
