package preflight_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tandem-ci/tandem/pkg/manifest"
	"github.com/tandem-ci/tandem/pkg/preflight"
)

// TestFromManifests: the container running the repository's image, with its command,
// args and the environment the build can give; what it cannot is named.
func TestFromManifests(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"kustomization.yaml": "resources: [config.yaml, job.yaml]\n",
		"config.yaml":        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {LOG_LEVEL: debug}\n",
		"job.yaml": `apiVersion: batch/v1
kind: Job
metadata: {name: shop-migration}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: r.example.com/shop-migration:v1.2.0
          command: [/app/shop, migrate]
          args: [up]
          envFrom:
            - configMapRef: {name: cfg}
              prefix: APP_
            - configMapRef: {name: elsewhere}
            - secretRef: {name: shop-secrets}
          env:
            - {name: MODE, value: strict}
            - name: TOKEN
              valueFrom: {secretKeyRef: {name: t, key: k}}
`,
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, err := manifest.Build(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := preflight.FromManifests(m, "Job", "r.example.com/shop-migration")
	if err != nil {
		t.Fatal(err)
	}
	if c.Image != "r.example.com/shop-migration:v1.2.0" || !slices.Equal(c.Command, []string{"/app/shop", "migrate"}) || !slices.Equal(c.Args, []string{"up"}) {
		t.Errorf("container = %+v", c)
	}
	if want := []string{"APP_LOG_LEVEL=debug", "MODE=strict"}; !slices.Equal(c.Env, want) {
		t.Errorf("env = %q, want %q", c.Env, want)
	}
	if want := []string{"ConfigMap elsewhere", "Secret shop-secrets", "env TOKEN"}; !slices.Equal(c.Unresolved, want) {
		t.Errorf("unresolved = %q, want %q", c.Unresolved, want)
	}
	_, err = preflight.FromManifests(m, "Deployment", "r.example.com/shop")
	if !errors.Is(err, preflight.ErrNoWorkload) || !strings.Contains(err.Error(), "there is none") {
		t.Errorf("no Deployment: %v", err)
	}
	_, err = preflight.FromManifests(m, "Job", "r.example.com/shop")
	if !errors.Is(err, preflight.ErrNoWorkload) || !strings.Contains(err.Error(), "they run r.example.com/shop-migration:v1.2.0") {
		t.Errorf("other repository: %v", err)
	}
}
