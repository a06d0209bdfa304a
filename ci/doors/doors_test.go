package doors_test

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
	"testing"

	"dagger/tandem/doors"

	"github.com/tandem-ci/tandem/pkg/release"
	"github.com/tandem-ci/tandem/pkg/release/releasetest"
)

// daggerDefaults reads the +default pragmas of the Release function's arguments in
// ../release.go: the values the engine fills for omitted arguments.
func daggerDefaults(t *testing.T) map[string]any {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "../release.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	cmap := ast.NewCommentMap(fset, f, f.Comments)
	out := map[string]any{}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Name.Name != "Release" {
			continue
		}
		for _, field := range fd.Type.Params.List {
			for _, g := range cmap[field] {
				for _, c := range g.List {
					if v, ok := strings.CutPrefix(c.Text, "// +default="); ok {
						for _, n := range field.Names {
							out[n.Name] = strings.Trim(v, `"`)
						}
					}
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no +default pragma found in ../release.go: the parser no longer sees them")
	}
	return out
}

// TestDaggerDefaultsArePkgConstants: the module's +default pragmas (literals the engine
// reads) are the library's defaults.
func TestDaggerDefaultsArePkgConstants(t *testing.T) {
	got := daggerDefaults(t)
	for arg, want := range map[string]string{"path": release.DefaultManifestsPath, "fluxNamespace": release.DefaultFluxNamespace} {
		if got[arg] != want {
			t.Errorf("Release's %s defaults to %q, pkg/release to %q", arg, got[arg], want)
		}
	}
}

// TestDoorsDagger: Release's arguments map onto the same plan as the CLI's flags
// (cmd/tandem/doors_test.go checks the same table). No engine is needed: the mapping is
// a plain function.
func TestDoorsDagger(t *testing.T) {
	scenarios, err := releasetest.Load("../../pkg/release/testdata/doors.json")
	if err != nil {
		t.Fatal(err)
	}
	defaults := daggerDefaults(t)
	for _, d := range scenarios {
		t.Run(d.Name, func(t *testing.T) {
			args := map[string]any{}
			for k, v := range defaults {
				args[k] = v
			}
			for k, v := range d.Dagger {
				args[k] = v
			}
			b, _ := json.Marshal(args)
			var a doors.ReleaseArgs
			if err := json.Unmarshal(b, &a); err != nil {
				t.Fatal(err)
			}
			p, err := release.Resolve(a.Config(d.Secrets["gitToken"], d.Secrets["registryPassword"]))
			if err != nil {
				t.Fatal(err)
			}
			for _, problem := range releasetest.Problems(d, p) {
				t.Error(problem)
			}
		})
	}
}

// TestConfigErrorsNameArguments: a bad release argument is named as the module's
// argument, never as a CLI flag or a GitLab variable.
func TestConfigErrorsNameArguments(t *testing.T) {
	good := doors.ReleaseArgs{App: "shop", Registry: "r.example.com/acme", RepoUrl: "https://git.example.com/acme/shop.git", Branch: "main", Tag: "v1.0.0", Path: "k8s"}
	for _, c := range []struct {
		name string
		edit func(*doors.ReleaseArgs)
		want string
	}{
		{"no branch", func(a *doors.ReleaseArgs) { a.Branch = "" }, "branch: required (argument branch)"},
		{"no registry", func(a *doors.ReleaseArgs) { a.Registry = "" }, "(argument registry)"},
		{"bad path", func(a *doors.ReleaseArgs) { a.Path = "../x" }, "(argument path)"},
		{"other release branch", func(a *doors.ReleaseArgs) { a.ReleaseBranch = "release" }, "(argument releaseBranch)"},
		{"no tag", func(a *doors.ReleaseArgs) { a.Tag = "" }, "(argument tag, pipelineId or commitSha)"},
	} {
		a := good
		c.edit(&a)
		_, err := release.Resolve(a.Config("", ""))
		err = release.ForDoor(err, doors.Fields)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "--") || strings.Contains(err.Error(), "$CI_") {
			t.Errorf("%s: %v, want %q and no CLI words", c.name, err, c.want)
		}
	}
}

// TestExecFailure (issue 22, item 6): an exec's failure carries the module's step and the
// tail of the program's output, as text the engine cannot drop.
func TestExecFailure(t *testing.T) {
	long := ""
	for i := 1; i <= 30; i++ {
		long += fmt.Sprintf("line %d\n", i)
	}
	for _, c := range []struct {
		name, stdout, stderr string
		want, not            []string
	}{
		{"stderr", "ignored", "initdb: error: directory exists\n", []string{"starting postgres:17-alpine: exit code: 1\nits stderr:\n  initdb: error: directory exists"}, []string{"ignored"}},
		{"stdout when stderr is empty", "FATAL: bad config\n", "", []string{"its stdout:\n  FATAL: bad config"}, nil},
		{"nothing printed", "", " \n", []string{"exit code: 1 (the program printed nothing)"}, nil},
		{"tail only", "", long, []string{"the last 20 lines of its stderr:\n  line 11\n", "line 30"}, []string{"line 10\n"}},
	} {
		got := doors.ExecFailure("starting postgres:17-alpine: exit code: 1", c.stdout, c.stderr)
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", c.name, got, w)
			}
		}
		for _, n := range c.not {
			if strings.Contains(got, n) {
				t.Errorf("%s: %q has %q", c.name, got, n)
			}
		}
	}
}
