package variables_test

import (
	"fmt"

	"github.com/tandem-ci/tandem/pkg/variables"
)

func ExampleSet() {
	in := []byte(`apiVersion: v1
kind: ConfigMap
metadata:
  name: deployment-variables
data:
  IMAGE_TAG: "v1.41.0"  # updated by CI
`)
	out, old, _ := variables.Set(in, "v1.42.0")
	fmt.Println("was", old)
	fmt.Print(string(out))
	// Output:
	// was v1.41.0
	// apiVersion: v1
	// kind: ConfigMap
	// metadata:
	//   name: deployment-variables
	// data:
	//   IMAGE_TAG: "v1.42.0"  # updated by CI
}
