package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"dagger/tandem/internal/dagger"

	"github.com/tandem-ci/tandem/pkg/lint"
	"github.com/tandem-ci/tandem/pkg/manifest"
	"github.com/tandem-ci/tandem/pkg/variables"
)

// Render builds the kustomization at path (like kustomize build) and returns the YAML,
// optionally as if IMAGE_TAG were tag.
func (m *Tandem) Render(
	ctx context.Context,
	// Build as if data.IMAGE_TAG were this tag
	// +optional
	tag string,
) (string, error) {
	dir, err := exportDir(ctx, m.Source.Directory(m.Path))
	if err != nil {
		return "", err
	}
	if tag == "" {
		b, err := manifest.BuildYAML(ctx, dir)
		return string(b), err
	}
	rm, err := manifest.BuildWithTag(ctx, dir, tag)
	if err != nil {
		return "", err
	}
	b, err := rm.AsYaml()
	return string(b), err
}

// Lint checks the kustomization at path for the migration pattern's known mistakes and
// fails when any error is found. Returns the report (text, or JSON with format=json).
func (m *Tandem) Lint(
	ctx context.Context,
	// Report format: text or json
	// +optional
	// +default="text"
	format string,
) (string, error) {
	path := m.Path
	dir, err := exportDir(ctx, m.Source.Directory(path))
	if err != nil {
		return "", err
	}
	rep, err := lint.Lint(ctx, dir, lint.WithDisplayName(path))
	if err != nil {
		return "", err
	}
	var out strings.Builder
	if format == "json" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		out.Write(b)
	} else {
		for _, f := range rep.Findings {
			out.WriteString(f.String() + "\n")
		}
		fmt.Fprintf(&out, "%s: %d findings, %d errors\n", path, len(rep.Findings), rep.Errors())
	}
	if rep.Errors() > 0 {
		return out.String(), errors.New(out.String())
	}
	return out.String(), nil
}

// Bump sets IMAGE_TAG in the deployment-variables file and returns the source with the
// file rewritten (every other byte kept).
func (m *Tandem) Bump(
	ctx context.Context,
	// The release tag
	tag string,
) (*dagger.Directory, error) {
	source, file := m.Source, m.File
	if file == "" {
		file = path.Join(m.Path, path.Base(variables.DefaultFile))
	}
	content, err := source.File(file).Contents(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	out, _, err := variables.Set([]byte(content), tag)
	if errors.Is(err, variables.ErrUnchanged) {
		return source, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.ToSlash(file), err)
	}
	return source.WithNewFile(file, string(out)), nil
}
