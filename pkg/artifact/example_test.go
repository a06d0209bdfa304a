package artifact_test

import (
	"fmt"

	"github.com/tandem-ci/tandem/pkg/artifact"
)

func ExampleURL() {
	fmt.Println(artifact.URL("registry.example.com/acme/shop/manifests", "v1.42.0"))
	fmt.Println(artifact.Revision("main", "0123456789abcdef0123456789abcdef01234567"))
	// Output:
	// oci://registry.example.com/acme/shop/manifests:v1.42.0
	// main@sha1:0123456789abcdef0123456789abcdef01234567
}
