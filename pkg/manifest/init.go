package manifest

import (
	"fmt"
	"path/filepath"

	"github.com/google/shlex"

	"github.com/tandem-ci/tandem/pkg/naming"
)

// Waiters are the init containers Init can write.
const (
	WaiterK8sWaitFor = "k8s-wait-for"
	WaiterTandem     = "tandem" // fails fast and prints the failed migration's log
)

// InitOptions is what `tandem init` asks for besides the Spec.
type InitOptions struct {
	// Registry is the project's registry path: Spec.Image and Spec.MigrationImage default
	// to <registry>/<app> and <registry>/<app>-migration, as a release pushes them.
	Registry string
	// MigrationCommand is split as a shell would (Kubernetes runs no shell); it replaces
	// Spec.MigrationCommand when not empty.
	MigrationCommand string
	// Waiter is WaiterK8sWaitFor (default) or WaiterTandem; with WaiterTandem and no
	// Spec.WaiterImage, the tandem waiter image is used.
	Waiter string
	// Flux: the objects written beside the folder (FluxDir, default flux/ next to it);
	// Namespace, Semver, Insecure and ArtifactRepo override FluxFromSpec's. NoFlux writes none.
	Flux    FluxSpec
	FluxDir string
	NoFlux  bool
	Force   bool
}

// Init writes the pattern's folder for spec into dir and, unless o.NoFlux, the Flux
// objects beside it. Everything is checked before anything is written: a refused init
// writes nothing.
func Init(dir string, spec Spec, o InitOptions) (Result, error) {
	if o.MigrationCommand != "" {
		words, err := shlex.Split(o.MigrationCommand)
		if err != nil {
			return Result{}, &FieldError{Field: "MigrationCommand", Err: fmt.Errorf("%q: %w: quote as in a shell, e.g. 'sh -c \"alembic upgrade head\"'", o.MigrationCommand, err)}
		}
		spec.MigrationCommand = words
	}
	spec.Image, spec.MigrationImage, _ = naming.Repositories(o.Registry, spec.App, spec.Image, spec.MigrationImage, "")
	switch o.Waiter {
	case "", WaiterK8sWaitFor:
	case WaiterTandem:
		if spec.WaiterImage == "" {
			spec.WaiterImage = TandemWaiterImage
		}
		spec.WaiterLogs = true
	default:
		return Result{}, &FieldError{Field: "Waiter", Err: fmt.Errorf("%q: use %s or %s", o.Waiter, WaiterK8sWaitFor, WaiterTandem)}
	}
	var opts []RenderOption
	if o.Force {
		opts = append(opts, WithForce())
	}
	if err := spec.WithDefaults().Validate(); err != nil {
		return Result{}, err
	}
	fluxDir := o.FluxDir
	if fluxDir == "" {
		fluxDir = filepath.Join(filepath.Dir(filepath.Clean(dir)), "flux")
	}
	fs := FluxFromSpec(spec.WithDefaults())
	if o.Flux.Namespace != "" {
		fs.Namespace = o.Flux.Namespace
	}
	if o.Flux.Semver != "" {
		fs.Semver = o.Flux.Semver
	}
	fs.Insecure = o.Flux.Insecure
	if o.Flux.ArtifactRepo != "" {
		fs.ArtifactRepo = o.Flux.ArtifactRepo
	}
	if !o.NoFlux {
		if _, err := FluxFile(fs); err != nil {
			return Result{}, err
		}
		if !o.Force {
			if err := FluxAbsent(fluxDir, spec.App); err != nil {
				return Result{}, err
			}
		}
	}
	res, err := Render(dir, spec, opts...)
	if err != nil || o.NoFlux {
		return res, err
	}
	path, err := RenderFlux(fluxDir, fs, opts...)
	if err != nil {
		return res, err
	}
	res.Files = append(res.Files, path)
	return res, nil
}

// FieldError names the input (a field of Spec or InitOptions) that is wrong; each door
// shows it under its own name (the CLI's flag, the Dagger module's argument).
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }
