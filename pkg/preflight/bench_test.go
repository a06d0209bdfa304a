package preflight_test

import (
	"context"
	"testing"

	"github.com/tandem-ci/tandem/internal/testregistry"
	"github.com/tandem-ci/tandem/pkg/preflight"
)

// BenchmarkPreflight times the whole pre-flight of examples/go-postgres (the current
// example as the live release, plus one compatible migration), with each phase reported
// as ms/op: go test -bench Preflight -benchtime 5x ./pkg/preflight
func BenchmarkPreflight(b *testing.B) {
	requirePostgres(b)
	n := &notes{reg: testregistry.New(b, "", "")}
	prevService, prevMigration := n.release(b, "v1.0.0", nil)
	_, mig := n.release(b, "v1.1.0", addMigration("ALTER TABLE notes ADD COLUMN pinned boolean NOT NULL DEFAULT false;"))
	cfg := preflight.Config{Tag: "v1.1.0", PreviousTag: "v1.0.0", CompatCheck: "/notes",
		Migration:         preflight.Container{Image: mig, Command: migrate},
		PreviousMigration: preflight.Container{Image: prevMigration, Command: migrate},
		PreviousService:   preflight.Container{Image: prevService}}
	phases := map[string]float64{}
	b.ResetTimer()
	for range b.N {
		res, err := preflight.Run(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range res.Phases {
			phases[p.Name] += float64(p.Duration.Microseconds()) / 1000
		}
	}
	for name, ms := range phases {
		b.ReportMetric(ms/float64(b.N), name+"-ms/op")
	}
}
