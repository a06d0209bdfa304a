package demo_test

import (
	"fmt"

	"github.com/tandem-ci/tandem/cmd/tandem/internal/demo"
)

func ExampleDefaultConfig() {
	cfg := demo.DefaultConfig()
	fmt.Println(cfg.Example, cfg.Package, cfg.App)
	// Output: examples/go-postgres ./cmd/notes notes
}
