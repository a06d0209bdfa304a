package demo_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ci/tandem/cmd/tandem/internal/demo"
	"github.com/tandem-ci/tandem/internal/testcluster"
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
	if got := strings.Join(names, " "); got != "registry git images commit artifact render" {
		t.Errorf("steps = %s", got)
	}
	rd := res.Rendered
	if rd.JobName != "notes-migration-v1.1.0" || rd.WaitsFor != rd.JobName || !strings.HasSuffix(rd.ServiceImage, "/notes:v1.1.0") || !strings.HasSuffix(rd.MigrationImage, "/notes-migration:v1.1.0") {
		t.Errorf("rendered = %+v", rd)
	}
	img := res.Release.Images
	if img == nil || img.Migration.LayersUploaded != 0 || img.Service.LayersUploaded != 1 {
		t.Errorf("images = %+v", img)
	}
	if strings.Count(out.String(), "\n") != len(res.Steps) {
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
