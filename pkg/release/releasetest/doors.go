// Package releasetest holds the scenarios every door into a release must resolve alike
// (testdata/doors.json of pkg/release): the CLI's flags and environment, and the Dagger
// module's arguments as the GitLab component passes them. Tests of each door load them.
package releasetest

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"sort"
	"strings"

	"github.com/tandem-ci/tandem/pkg/release"
)

// Door is one scenario, ready for a door's mapping.
type Door struct {
	Name string
	// Env is the complete environment of the scenario; EnvNames lists every variable any
	// scenario sets, so a test can clear the others.
	Env      map[string]string
	EnvNames []string
	// CLI are the `tandem release` arguments.
	CLI []string
	// Dagger are the Release function's arguments, expanded ($VAR from Env), without
	// secrets; Secrets are the secret arguments' plaintexts (env:NAME read from Env).
	Dagger  map[string]any
	Secrets map[string]string
	// Want is the resolved plan as PlanMap returns it.
	Want map[string]any
}

type file struct {
	GitLab    map[string]string `json:"gitlab"`
	Component map[string]any    `json:"component"`
	Base      map[string]any    `json:"base"`
	Scenarios []struct {
		Name   string            `json:"name"`
		GitLab bool              `json:"gitlab"`
		Env    map[string]string `json:"env"`
		CLI    []string          `json:"cli"`
		Dagger map[string]any    `json:"dagger"`
		Want   map[string]any    `json:"want"`
	} `json:"scenarios"`
}

// Load reads the scenarios from path.
func Load(path string) ([]Door, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	names := map[string]bool{}
	for k := range f.GitLab {
		names[k] = true
	}
	for _, s := range f.Scenarios {
		for k := range s.Env {
			names[k] = true
		}
	}
	var doors []Door
	for _, s := range f.Scenarios {
		d := Door{Name: s.Name, Env: map[string]string{}, CLI: s.CLI, Dagger: map[string]any{}, Secrets: map[string]string{}, Want: map[string]any{}}
		for k := range names {
			d.EnvNames = append(d.EnvNames, k)
		}
		args := map[string]any{}
		if s.GitLab {
			maps.Copy(d.Env, f.GitLab)
			maps.Copy(args, f.Component)
		}
		maps.Copy(d.Env, s.Env)
		maps.Copy(args, s.Dagger)
		for k, v := range args {
			str, ok := v.(string)
			switch {
			case !ok:
				d.Dagger[k] = v
			case strings.HasPrefix(str, "env:"):
				d.Secrets[k] = d.Env[strings.TrimPrefix(str, "env:")]
			default:
				d.Dagger[k] = os.Expand(str, func(n string) string { return d.Env[n] })
			}
		}
		maps.Copy(d.Want, f.Base)
		maps.Copy(d.Want, s.Want)
		doors = append(doors, d)
	}
	return doors, nil
}

// PlanMap is p as JSON fields, with the credentials it holds (gitToken,
// registryPassword) added: doors must agree on those too.
func PlanMap(p release.Plan) (map[string]any, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	m["gitToken"], m["registryPassword"] = p.GitToken(), p.RegistryPassword()
	return m, nil
}

// Diff lists the fields where got differs from want, one line each.
func Diff(got, want map[string]any) []string {
	var out []string
	keys := map[string]bool{}
	for k := range got {
		keys[k] = true
	}
	for k := range want {
		keys[k] = true
	}
	for k := range keys {
		if fmt.Sprint(got[k]) != fmt.Sprint(want[k]) {
			out = append(out, fmt.Sprintf("%s = %v, want %v", k, got[k], want[k]))
		}
	}
	sort.Strings(out)
	return out
}

// BelowRegistry lists the repositories of a plan (as PlanMap returns it) that are not
// below the registry path: GitLab's registry refuses those.
func BelowRegistry(plan map[string]any, registry string) []string {
	var out []string
	for _, k := range []string{"serviceRepository", "migrationRepository", "artifactRepository"} {
		if v := fmt.Sprint(plan[k]); !strings.HasPrefix(v, strings.TrimSuffix(registry, "/")+"/") {
			out = append(out, fmt.Sprintf("%s %s is not below the registry path %s", k, v, registry))
		}
	}
	return out
}

// Problems lists every way the plan p a door resolved for d differs from the scenario's
// expectation, including repositories outside the scenario's registry path.
func Problems(d Door, p release.Plan) []string {
	got, err := PlanMap(p)
	if err != nil {
		return []string{err.Error()}
	}
	out := Diff(got, d.Want)
	return append(out, BelowRegistry(got, fmt.Sprint(d.Dagger["registry"]))...)
}
