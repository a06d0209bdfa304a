package lint_test

import (
	"context"
	"fmt"

	"github.com/tandem-ci/tandem/pkg/lint"
)

func ExampleLint() {
	rep, err := lint.Lint(context.Background(), "testdata/TND002-missing-force-annotation")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range rep.Findings {
		fmt.Printf("%s:%d %s %s\n", f.File, f.Line, f.Rule, f.Name)
	}
	// Output:
	// migration-job.yaml:14 TND002 missing-force-annotation
}
