package release_test

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkRelease runs whole releases (build, two image pushes, clone+commit+push,
// artifact push) against the in-process registry and the local git server, one new
// tag per iteration. Reports per-step milliseconds.
func BenchmarkRelease(b *testing.B) {
	e := newEnv(b, "k8s", "")
	steps := map[string]float64{}
	for i := 0; b.Loop(); i++ {
		res, err := e.release(b, fmt.Sprintf("v1.%d.0", 100+i)).Run(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		for _, s := range res.Steps {
			steps[s.Name] += float64(s.Duration.Microseconds()) / 1000
		}
	}
	for name, ms := range steps {
		b.ReportMetric(ms/float64(b.N), name+"-ms/op")
	}
}
