package demo_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ci/tandem/cmd/tandem/internal/demo"
	"github.com/tandem-ci/tandem/internal/testcluster"
	"github.com/tandem-ci/tandem/pkg/preflight"
	"github.com/tandem-ci/tandem/pkg/release"
)

func config(out *bytes.Buffer) demo.Config {
	cfg := demo.DefaultConfig()
	cfg.Example = "../../../../examples/go-postgres"
	cfg.Out = out
	return cfg
}

func TestDemo(t *testing.T) {
	var out bytes.Buffer
	res, err := demo.Run(context.Background(), config(&out))
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Log("\n" + out.String())
	var names []string
	for _, s := range res.Steps {
		names = append(names, s.Name)
	}
	want := "registry git images preflight commit artifact render images preflight stopped"
	if _, err := preflight.PostgresBinDir(); err != nil && os.Getenv("CI") == "" {
		want = "registry git images commit artifact render" // no PostgreSQL: no pre-flight
	}
	if got := strings.Join(names, " "); got != want {
		t.Errorf("steps = %s, want %s", got, want)
	}
	if s := res.Stopped; strings.HasSuffix(want, "stopped") {
		// The breaking release: images pushed, pre-flight failed in compat, nothing after.
		if s == nil || s.Preflight == nil || len(s.Steps) != 2 || s.Steps[1].Status != release.StatusFailed || s.Commit != nil {
			t.Fatalf("stopped release = %+v", s)
		}
		last := s.Preflight.Phases[len(s.Preflight.Phases)-1]
		if last.Name != preflight.PhaseCompat || !strings.Contains(last.Detail, `column "created_at" does not exist`) {
			t.Errorf("last phase = %+v", last)
		}
		// Issue 23: the analysis predicted it, naming file and line, before the compat
		// check proved it.
		an := s.Preflight.Analysis
		if an == nil || an.Errors() != 1 || an.Findings[0].Code != "DS103" && an.Findings[1].Code != "DS103" ||
			!strings.Contains(out.String(), "internal/migrations/00004_drop_created_at.sql:2: error DS103") {
			t.Errorf("analysis of the breaking release = %+v\n%s", an, out.String())
		}
	}
	rd := res.Rendered
	if rd.JobName != "notes-migration-v1.1.0" || rd.WaitsFor != rd.JobName || !strings.HasSuffix(rd.ServiceImage, "/notes:v1.1.0") || !strings.HasSuffix(rd.MigrationImage, "/notes-migration:v1.1.0") {
		t.Errorf("rendered = %+v", rd)
	}
	img := res.Release.Images
	if img == nil || img.Migration.LayersUploaded != 0 || img.Service.LayersUploaded != 1 {
		t.Errorf("images = %+v", img)
	}
	if strings.Count(out.String(), "\n[")+1 != len(res.Steps) {
		t.Errorf("want one progress line per step:\n%s", out.String())
	}
}

func TestDemoCluster(t *testing.T) {
	testcluster.RequireFlux(t)
	var out bytes.Buffer
	cfg := config(&out)
	cfg.Cluster = true
	res, err := demo.Run(context.Background(), cfg)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	c := res.Cluster
	if c.GoodWaiter != "exit 0" || c.Good.Available != 2 || !c.Good.Job.Succeeded {
		t.Errorf("good release = %+v", c)
	}
	if c.FailedJob.Reason != "BackoffLimitExceeded" || !strings.HasPrefix(c.FailedWaiter, "exit 1") || c.FailFast <= 0 || c.FailFast > time.Minute {
		t.Errorf("failed release = %+v", c)
	}
}

func TestDemoWithoutControlPlane(t *testing.T) {
	t.Setenv("TANDEM_TESTENV_DIR", t.TempDir())
	cfg := config(&bytes.Buffer{})
	cfg.Cluster = true
	_, err := demo.Run(context.Background(), cfg)
	if !errors.Is(err, demo.ErrNoControlPlane) || !strings.Contains(err.Error(), "bash hack/testenv.sh") {
		t.Errorf("demo --cluster without binaries = %v", err)
	}
}

func TestDemoBadExample(t *testing.T) {
	cfg := demo.DefaultConfig()
	cfg.Example = t.TempDir()
	if _, err := demo.Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "pass --example") {
		t.Errorf("missing example = %v", err)
	}
}
