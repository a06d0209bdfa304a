package tag_test

import (
	"fmt"

	"github.com/tandem-ci/tandem/pkg/tag"
)

func ExampleCompute() {
	res, _ := tag.Compute(tag.Config{PipelineID: "2286938253"})
	job, _ := tag.JobName("my-shop", res.Tag)
	fmt.Println(res.Tag, res.Source)
	fmt.Println(job)
	// Output:
	// v1.2286938253.0 pipeline
	// my-shop-migration-v1.2286938253.0
}
