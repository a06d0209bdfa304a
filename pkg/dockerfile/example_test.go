package dockerfile_test

import (
	"fmt"

	"github.com/tandem-ci/tandem/pkg/dockerfile"
)

func ExamplePlanMigration() {
	svc := []byte("FROM golang:1.26\nCOPY . .\nRUN go build -o /app ./cmd/server\nENTRYPOINT [\"/app\"]\n")
	mig := []byte("FROM golang:1.26\nCOPY . .\nRUN go build -o /app ./cmd/server\nENTRYPOINT [\"/app\", \"migrate\"]\n")
	p, _ := dockerfile.PlanMigration(svc, mig)
	fmt.Println(p.Derive, p.Entrypoint)
	// Output: true [/app migrate]
}
