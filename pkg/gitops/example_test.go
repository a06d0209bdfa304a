package gitops_test

import (
	"fmt"

	"github.com/tandem-ci/tandem/pkg/gitops"
)

func ExampleStripCredentials() {
	fmt.Println(gitops.StripCredentials("https://gitlab-ci-token:glpat-secret@gitlab.example.com/acme/shop.git"))
	// Output: https://gitlab.example.com/acme/shop.git
}
