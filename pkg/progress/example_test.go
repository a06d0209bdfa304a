package progress_test

import (
	"fmt"

	"github.com/tandem-ci/tandem/pkg/progress"
)

type step struct{ Name, Status string }

func ExampleRecorder() {
	var steps []step
	rec := progress.New(&steps, func(s step) { fmt.Println(s.Name, s.Status) })
	rec.Record(step{"images", "done"})
	rec.Record(step{"commit", "skipped"})
	fmt.Println(len(steps), "recorded")
	// Output:
	// images done
	// commit skipped
	// 2 recorded
}
