package doors_test

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"path/filepath"
	"strings"
	"testing"

	"dagger/tandem/doors"

	"github.com/tandem-ci/tandem/pkg/preflight"
	"github.com/tandem-ci/tandem/pkg/release"
	"github.com/tandem-ci/tandem/pkg/release/releasetest"
	"github.com/tandem-ci/tandem/pkg/tag"
)

// moduleParams reads every parameter of the module's functions (New, the With…
// methods, the functions) in ../*.go: its Go type and its +default pragma.
func moduleParams(t *testing.T) map[string][]param {
	t.Helper()
	files, err := filepath.Glob("../*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no module sources: %v", err)
	}
	out := map[string][]param{}
	for _, file := range files {
		if strings.HasSuffix(file, "dagger.gen.go") {
			continue
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, file, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		cmap := ast.NewCommentMap(fset, f, f.Comments)
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || !fd.Name.IsExported() || (fd.Recv == nil && fd.Name.Name != "New") ||
				(fd.Recv != nil && types.ExprString(fd.Recv.List[0].Type) != "*Tandem") {
				continue
			}
			var params []param
			for _, field := range fd.Type.Params.List {
				typ := types.ExprString(field.Type)
				if typ == "context.Context" {
					continue
				}
				def, hasDef := "", false
				for _, g := range cmap[field] {
					for _, c := range g.List {
						if v, ok := strings.CutPrefix(c.Text, "// +default="); ok {
							def, hasDef = strings.Trim(v, `"`), true
						}
					}
				}
				for _, n := range field.Names {
					params = append(params, param{n.Name, typ, def, hasDef})
				}
			}
			out[fd.Name.Name] = params
		}
	}
	return out
}

type param struct {
	name, typ, def string
	hasDef         bool
}

// daggerDefaults are the +default pragmas of the module's arguments (one name, one
// concept: the same default wherever it appears): the values the engine fills for
// omitted arguments.
func daggerDefaults(t *testing.T) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, ps := range moduleParams(t) {
		for _, p := range ps {
			if p.hasDef {
				out[p.name] = p.def
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no +default pragma found in ../*.go: the parser no longer sees them")
	}
	return out
}

// TestDaggerDefaultsArePkgConstants: the module's +default pragmas (literals the engine
// reads) are the library's defaults.
func TestDaggerDefaultsArePkgConstants(t *testing.T) {
	got := daggerDefaults(t)
	for arg, want := range map[string]string{"path": release.DefaultManifestsPath, "fluxNamespace": release.DefaultFluxNamespace,
		"tagFormat": tag.DefaultFormat, "rollbackTagFormat": tag.DefaultRollbackFormat,
		"databaseEnv": preflight.DefaultDatabaseEnv, "postgresImage": preflight.DefaultPostgresImage} {
		if got[arg] != want {
			t.Errorf("the module's %s defaults to %q, pkg/ to %q", arg, got[arg], want)
		}
	}
}

// TestModuleVocabulary (issue 22): one argument name per concept across the constructor
// and every function (one Go type, one default), none of the synonyms the module had
// (username, password, token, name, namespace, repository), and Release with at most 8
// arguments besides the constructor's state.
func TestModuleVocabulary(t *testing.T) {
	fns := moduleParams(t)
	if _, ok := fns["New"]; !ok {
		t.Fatal("the module has no constructor New")
	}
	seen := map[string]param{}
	for fn, ps := range fns {
		for _, p := range ps {
			switch p.name {
			case "username", "password", "token", "name", "namespace", "repository", "source":
				if !(fn == "New" && p.name == "source") {
					t.Errorf("%s: argument %s: say which (registryUsername, gitToken, fluxName, …); the constructor holds the source", fn, p.name)
				}
			}
			if prev, ok := seen[p.name]; ok && (prev.typ != p.typ || prev.def != p.def) {
				t.Errorf("%s: argument %s is %s (default %q) here and %s (default %q) elsewhere", fn, p.name, p.typ, p.def, prev.typ, prev.def)
			}
			seen[p.name] = p
		}
	}
	if n := len(fns["Release"]); n == 0 || n > 8 {
		t.Errorf("Release has %d arguments, want 1–8 (the rest is the constructor's state)", n)
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

// TestViaEndpoint (issue 22, item 3): the git traffic of a module given gitService goes
// to the service's endpoint over plain HTTP, the repository's path kept; a URL without a
// host is refused naming the argument.
func TestViaEndpoint(t *testing.T) {
	got, err := doors.ViaEndpoint("https://gitlab.example.com/acme/shop.git", "host-svc-1:3000")
	if err != nil || got != "http://host-svc-1:3000/acme/shop.git" {
		t.Errorf("ViaEndpoint = %q, %v", got, err)
	}
	if _, err := doors.ViaEndpoint("git@gitlab.example.com:acme/shop.git", "x:1"); err == nil || !strings.Contains(err.Error(), "gitService") {
		t.Errorf("scp-style URL: %v", err)
	}
	if h := doors.RegistryHost("localhost:5000/acme/shop"); h != "localhost:5000" {
		t.Errorf("RegistryHost = %q", h)
	}
}
