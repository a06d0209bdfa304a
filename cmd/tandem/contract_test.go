package main

// Contract tests: there is no Dagger engine and no GitLab here, so these tests check
// that everything the pipelines and the README call exists: every `dagger call FN --ARG`
// names a function and argument of the module in ci/, every `tandem CMD --FLAG` exists
// in the cobra tree, every component input is declared and used, dagger.json is right.

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"go.yaml.in/yaml/v3"
)

const root = "../.."

// daggerFunctions reads the module's functions and their arguments (kebab-case, as the
// dagger CLI spells them) from ci/*.go.
func daggerFunctions(t *testing.T) map[string][]string {
	t.Helper()
	fns := map[string][]string{}
	for _, fd := range moduleFuncs(t, moduleSources(t)) {
		var args []string
		for _, p := range fd.Type.Params.List {
			for _, n := range p.Names {
				if n.Name != "ctx" {
					args = append(args, kebab(n.Name))
				}
			}
		}
		fns[kebab(fd.Name.Name)] = args
	}
	return fns
}

// moduleFuncs parses src (file name → Go source) and returns the module's functions.
func moduleFuncs(t *testing.T, src map[string]string) []*ast.FuncDecl {
	t.Helper()
	var out []*ast.FuncDecl
	fset := token.NewFileSet()
	for name, text := range src {
		file, err := parser.ParseFile(fset, name, text, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && tandemMethod(fd) {
				out = append(out, fd)
			}
		}
	}
	return out
}

// tandemMethod reports whether fd is the module's constructor New or an exported method
// of *Tandem: a module function.
func tandemMethod(fd *ast.FuncDecl) bool {
	if fd.Recv == nil {
		return fd.Name.Name == "New"
	}
	if !fd.Name.IsExported() {
		return false
	}
	star, ok := fd.Recv.List[0].Type.(*ast.StarExpr)
	return ok && star.X.(*ast.Ident).Name == "Tandem"
}

func kebab(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('-')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

var (
	inputRef    = regexp.MustCompile(`\$\[\[\s*inputs\.([a-zA-Z0-9_]+)\s*\]\]`)
	fence       = regexp.MustCompile("(?s)```[a-z]*\n(.*?)```")
	separators  = []string{"|", "||", "&&", ";"}
	valueFlags  = []string{"-m", "--mod"}
	continuedLn = regexp.MustCompile(`\\\s*\n\s*`)
)

// commandLines returns the shell lines of a text: continuations joined, component
// inputs replaced by a placeholder.
func commandLines(text string) [][]string {
	text = inputRef.ReplaceAllString(text, "INPUT")
	text = continuedLn.ReplaceAllString(text, " ")
	var lines [][]string
	for _, l := range strings.Split(text, "\n") {
		var toks []string
		for _, f := range strings.Fields(l) {
			toks = append(toks, strings.Trim(f, `"'`))
		}
		lines = append(lines, toks)
	}
	return lines
}

// daggerCall is one `dagger [flags] call FN --arg[=value] …` of a script.
type daggerCall struct {
	fn   string
	args [][2]string // name, value ("" for a bare flag)
}

// daggerCalls finds the dagger calls of a text (component inputs replaced by INPUT).
func daggerCalls(text string) []daggerCall {
	var calls []daggerCall
	for _, toks := range commandLines(text) {
		for i := 0; i < len(toks); i++ {
			if toks[i] != "dagger" {
				continue
			}
			j := i + 1
			for j < len(toks) && toks[j] != "call" && strings.HasPrefix(toks[j], "-") {
				if slices.Contains(valueFlags, toks[j]) {
					j++
				}
				j++
			}
			if j >= len(toks) || toks[j] != "call" {
				continue
			}
			j++
			// The constructor's arguments come between call and the first function.
			ctor := daggerCall{fn: "new"}
			for ; j < len(toks) && (strings.HasPrefix(toks[j], "-") || strings.HasPrefix(toks[j], "$")); j++ {
				if strings.HasPrefix(toks[j], "$") {
					continue // "$@": arguments the script adds
				}
				name, value, _ := strings.Cut(strings.TrimPrefix(toks[j], "--"), "=")
				ctor.args = append(ctor.args, [2]string{name, value})
			}
			calls = append(calls, ctor)
			// Then functions: With… methods chain into the one that runs.
			for j < len(toks) && !slices.Contains(separators, toks[j]) && !strings.HasPrefix(toks[j], "-") {
				c := daggerCall{fn: toks[j]}
				for j++; j < len(toks) && !slices.Contains(separators, toks[j]); j++ {
					if !strings.HasPrefix(toks[j], "--") {
						if toks[j] != "INPUT" && !strings.HasPrefix(toks[j], "$") {
							break // a chained field or function
						}
						if n := len(c.args); n > 0 && c.args[n-1][1] == "" {
							c.args[n-1][1] = toks[j] // --name value
						}
						continue
					}
					name, value, _ := strings.Cut(strings.TrimPrefix(toks[j], "--"), "=")
					c.args = append(c.args, [2]string{name, value})
				}
				calls = append(calls, c)
				if !strings.HasPrefix(c.fn, "with-") {
					break // what follows are the result's fields
				}
			}
		}
	}
	return calls
}

// checkDagger reports every dagger call to a missing function or argument.
func checkDagger(fns map[string][]string, text string) []string {
	var problems []string
	for _, c := range daggerCalls(text) {
		args, ok := fns[c.fn]
		if !ok {
			problems = append(problems, fmt.Sprintf("dagger call %s: no such function in ci/", c.fn))
			continue
		}
		for _, a := range c.args {
			if !slices.Contains(args, a[0]) {
				problems = append(problems, fmt.Sprintf("dagger call %s --%s: no such argument (has %v)", c.fn, a[0], args))
			}
		}
	}
	return problems
}

// daggerArgKinds reads each module function's argument kinds: secret, bool or value.
func daggerArgKinds(t *testing.T) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for _, fd := range moduleFuncs(t, moduleSources(t)) {
		kinds := map[string]string{}
		for _, p := range fd.Type.Params.List {
			kind := "value"
			switch typ := p.Type.(type) {
			case *ast.Ident:
				if typ.Name == "bool" {
					kind = "bool"
				}
			case *ast.StarExpr:
				if sel, ok := typ.X.(*ast.SelectorExpr); ok && sel.Sel.Name == "Secret" {
					kind = "secret"
				}
			}
			for _, n := range p.Names {
				kinds[kebab(n.Name)] = kind
			}
		}
		out[kebab(fd.Name.Name)] = kinds
	}
	return out
}

// checkDaggerKinds reports secrets passed as plain values (or plain values as env:
// references) and booleans given anything but true/false.
func checkDaggerKinds(kinds map[string]map[string]string, text string) []string {
	var problems []string
	for _, c := range daggerCalls(text) {
		for _, a := range c.args {
			kind, value := kinds[c.fn][a[0]], a[1]
			switch {
			case kind == "secret" && !strings.HasPrefix(value, "env:"):
				problems = append(problems, fmt.Sprintf("dagger call %s --%s=%s: a secret must be passed as env:NAME", c.fn, a[0], value))
			case kind != "secret" && strings.HasPrefix(value, "env:"):
				problems = append(problems, fmt.Sprintf("dagger call %s --%s=%s: not a secret argument", c.fn, a[0], value))
			case kind == "bool" && value != "" && value != "true" && value != "false" && value != "INPUT" && !strings.HasPrefix(value, "$"):
				problems = append(problems, fmt.Sprintf("dagger call %s --%s=%s: want true or false", c.fn, a[0], value))
			}
		}
	}
	return problems
}

// checkTandem reports every tandem invocation of a missing command or flag.
func checkTandem(text string) []string {
	var problems []string
	for _, toks := range commandLines(text) {
		for i := 0; i < len(toks); i++ {
			if toks[i] != "tandem" && toks[i] != "./cmd/tandem" {
				continue
			}
			if i > 0 && !slices.Contains(append(separators, "run", "-", "$"), toks[i-1]) && toks[i] == "tandem" {
				continue // prose or a path, not a command
			}
			j := i + 1
			var words []string
			for j < len(toks) && !strings.HasPrefix(toks[j], "-") && !slices.Contains(separators, toks[j]) {
				words = append(words, toks[j])
				j++
			}
			root := newRootCmd()
			cmd, rest, err := root.Find(words)
			if err != nil || cmd == root || (len(rest) > 0 && len(words) > 0 && rest[0] == words[0] && cmd.Args == nil) {
				problems = append(problems, fmt.Sprintf("tandem %s: no such command", strings.Join(words, " ")))
				continue
			}
			for ; j < len(toks) && !slices.Contains(separators, toks[j]); j++ {
				if !strings.HasPrefix(toks[j], "-") || toks[j] == "-" {
					continue
				}
				name, _, _ := strings.Cut(strings.TrimLeft(toks[j], "-"), "=")
				var found bool
				if strings.HasPrefix(toks[j], "--") {
					found = cmd.Flags().Lookup(name) != nil || cmd.InheritedFlags().Lookup(name) != nil
				} else {
					found = cmd.Flags().ShorthandLookup(name) != nil || cmd.InheritedFlags().ShorthandLookup(name) != nil
				}
				if !found {
					problems = append(problems, fmt.Sprintf("tandem %s %s: no such flag", cmd.Name(), toks[j]))
				}
			}
		}
	}
	return problems
}

// checkComponent reports inputs declared but unused, or used but not declared.
func checkComponent(text string) ([]string, error) {
	dec := yaml.NewDecoder(strings.NewReader(text))
	var head struct {
		Spec struct {
			Inputs map[string]struct {
				Type        string `yaml:"type"`
				Description string `yaml:"description"`
			} `yaml:"inputs"`
		} `yaml:"spec"`
	}
	if err := dec.Decode(&head); err != nil {
		return nil, err
	}
	var body yaml.Node
	if err := dec.Decode(&body); err != nil {
		return nil, fmt.Errorf("component has no body after the spec: %w", err)
	}
	_, after, _ := strings.Cut(text, "\n---\n")
	used := map[string]bool{}
	for _, m := range inputRef.FindAllStringSubmatch(after, -1) {
		used[m[1]] = true
	}
	var problems []string
	for name, in := range head.Spec.Inputs {
		if !used[name] {
			problems = append(problems, "input "+name+" is declared but never used")
		}
		if in.Description == "" || in.Type == "" {
			problems = append(problems, "input "+name+" lacks a type or description")
		}
	}
	for name := range used {
		if _, ok := head.Spec.Inputs[name]; !ok {
			problems = append(problems, "input "+name+" is used but not declared")
		}
	}
	slices.Sort(problems)
	return problems, nil
}

// sources returns the texts the contracts apply to: pipelines, components and the code
// blocks of the READMEs and docs/.
func sources(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	files, _ := filepath.Glob(filepath.Join(root, "templates", "*.yml"))
	files = append(files, filepath.Join(root, ".gitlab-ci.yml"))
	ex, _ := filepath.Glob(filepath.Join(root, "examples", "*", ".gitlab-ci.yml"))
	files = append(files, ex...)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = string(b)
	}
	readmes, _ := filepath.Glob(filepath.Join(root, "examples", "*", "README.md"))
	docs, _ := filepath.Glob(filepath.Join(root, "docs", "*.md")) // docs/cli is generated from the commands
	for _, f := range append(append(readmes, docs...), filepath.Join(root, "README.md")) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var blocks []string
		for _, m := range fence.FindAllStringSubmatch(string(b), -1) {
			blocks = append(blocks, m[1])
		}
		out[f+" (code blocks)"] = strings.Join(blocks, "\n")
	}
	return out
}

func TestContractPipelinesAndDocs(t *testing.T) {
	fns := daggerFunctions(t)
	for _, want := range []string{"build", "publish", "bump", "commit", "push-artifact", "reconcile", "lint", "render", "release"} {
		if _, ok := fns[want]; !ok {
			t.Errorf("the Dagger module lacks function %s", want)
		}
	}
	calls := 0
	for name, text := range sources(t) {
		calls += strings.Count(text, "dagger ") + strings.Count(text, "tandem ")
		for _, p := range append(checkDagger(fns, text), checkTandem(text)...) {
			t.Errorf("%s: %s", name, p)
		}
	}
	if calls == 0 {
		t.Fatal("no dagger or tandem calls found: the contract checked nothing")
	}
}

func TestContractComponentInputs(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(root, "templates", "*.yml"))
	if len(files) == 0 {
		t.Fatal("no component in templates/")
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		problems, err := checkComponent(string(b))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, p := range problems {
			t.Errorf("%s: %s", f, p)
		}
	}
}

// TestContractCatchesRenames shows the checks fail when a function, argument, command,
// flag or input is renamed.
func TestContractCatchesRenames(t *testing.T) {
	fns := daggerFunctions(t)
	cases := map[string]string{
		"dagger call --source=. relase":                              "no such function",
		"dagger call --sorce=. release":                              "no such argument",
		"dagger call --source=. release --source=.":                  "no such argument",
		"dagger -m github.com/x/y@v1 call push-artifact --tagg=1":    "no such argument",
		"dagger call --source=. with-autor --author-name=x release":  "no such function",
		"dagger call --source=. --path=k8s lint | tee x":             "",
		"dagger call --source=. with-author --author-name=x release": "",
		"dagger call --source=. build service publish --address=x":   "",
	}
	for text, want := range cases {
		got := strings.Join(checkDagger(fns, text), "; ")
		if want == "" && got != "" || want != "" && !strings.Contains(got, want) {
			t.Errorf("checkDagger(%q) = %q, want %q", text, got, want)
		}
	}
	tcases := map[string]string{
		"tandem relase --app x":                    "no such command",
		"tandem release --dryrun":                  "no such flag",
		"go run ./cmd/tandem render k8s --tagg v1": "no such flag",
		"tandem wait job NAME -n ns --timeout 1m":  "",
		"tandem release -o json --dry-run":         "",
	}
	for text, want := range tcases {
		got := strings.Join(checkTandem(text), "; ")
		if want == "" && got != "" || want != "" && !strings.Contains(got, want) {
			t.Errorf("checkTandem(%q) = %q, want %q", text, got, want)
		}
	}
	component := "spec:\n  inputs:\n    app:\n      type: string\n      description: a\n    old:\n      type: string\n      description: b\n---\njob:\n  script: echo $[[ inputs.app ]] $[[ inputs.renamed ]]\n"
	problems, err := checkComponent(component)
	if err != nil || strings.Join(problems, "; ") != "input old is declared but never used; input renamed is used but not declared" {
		t.Errorf("checkComponent = %v, %v", problems, err)
	}
}

func TestContractDaggerJSON(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "dagger.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Name          string            `json:"name"`
		EngineVersion string            `json:"engineVersion"`
		SDK           map[string]string `json:"sdk"`
		Source        string            `json:"source"`
		Include       []string          `json:"include"`
		Codegen       map[string]bool   `json:"codegen"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Name != "tandem" || cfg.EngineVersion != "v0.21.5" || cfg.SDK["source"] != "go" || cfg.Source != "ci" {
		t.Errorf("dagger.json = %+v", cfg)
	}
	if v, ok := cfg.Codegen["automaticGitignore"]; !ok || v {
		t.Error("dagger.json: codegen.automaticGitignore must be false (generated code is committed)")
	}
	for _, want := range []string{"go.mod", "go.sum", "pkg/**"} {
		if !slices.Contains(cfg.Include, want) {
			t.Errorf("dagger.json include lacks %s", want)
		}
	}
	// pkg/ may import internal packages: the engine only sees what include lists.
	for _, imp := range internalImports(t) {
		if !slices.Contains(cfg.Include, imp+"/**") && !slices.Contains(cfg.Include, "internal/**") {
			t.Errorf("pkg/ imports %s but dagger.json does not include %s/**", imp, imp)
		}
	}
	for _, mod := range []string{"go.mod", "ci/go.mod"} {
		b, _ := os.ReadFile(filepath.Join(root, mod))
		m := regexp.MustCompile(`(?m)^go (\d+)\.(\d+)`).FindStringSubmatch(string(b))
		if m == nil || m[1] != "1" || m[2] != "26" {
			t.Errorf("%s: go directive must stay 1.26.x (the engine's Go image), got %v", mod, m)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(root, "ci", "go.mod")); !strings.Contains(string(b), "replace github.com/tandem-ci/tandem => ../") {
		t.Error("ci/go.mod must replace github.com/tandem-ci/tandem => ../")
	}
}

// internalImports lists the internal/ packages that non-test files of pkg/ import, and
// fails when any of them imports dagger.io/dagger (only ci/ may).
func internalImports(t *testing.T) []string {
	t.Helper()
	var out []string
	fset := token.NewFileSet()
	filepath.Walk(filepath.Join(root, "pkg"), func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			path := strings.Trim(imp.Path.Value, `"`)
			if strings.HasPrefix(path, "dagger.io/dagger") {
				t.Errorf("%s imports %s: only ci/ may use Dagger", p, path)
			}
			if rest, ok := strings.CutPrefix(path, "github.com/tandem-ci/tandem/internal/"); ok && !slices.Contains(out, "internal/"+rest) {
				out = append(out, "internal/"+rest)
			}
		}
		return nil
	})
	return out
}

// pureFunctions compute a value from their arguments alone: the engine may cache them.
// Every other function of the module has a side effect (push, commit, reconcile) and
// must carry +cache="never", or a second identical call returns the cached answer and
// does nothing (docs.dagger.io, "Function Caching").
// pureFunctions may be cached: the constructor and the With… methods only hold state.
var pureFunctions = []string{"new", "build", "bump", "lint", "render", "with-repositories", "with-author", "with-flux", "with-tag-format", "with-release-branch", "with-migrations"}

// cachePolicies reads each module function's +cache pragma ("" when none).
func cachePolicies(t *testing.T, src map[string]string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, fd := range moduleFuncs(t, src) {
		policy := ""
		if fd.Doc != nil {
			for _, c := range fd.Doc.List {
				if v, ok := strings.CutPrefix(c.Text, "// +cache="); ok {
					policy = strings.Trim(v, `"`)
				}
			}
		}
		out[kebab(fd.Name.Name)] = policy
	}
	return out
}

func cacheProblems(policies map[string]string) []string {
	var problems []string
	for fn, policy := range policies {
		if !slices.Contains(pureFunctions, fn) && policy != "never" {
			problems = append(problems, fmt.Sprintf("function %s has side effects but no +cache=\"never\" (has %q)", fn, policy))
		}
	}
	slices.Sort(problems)
	return problems
}

func moduleSources(t *testing.T) map[string]string {
	t.Helper()
	src := map[string]string{}
	files, _ := filepath.Glob(filepath.Join(root, "ci", "*.go"))
	for _, f := range files {
		if strings.HasSuffix(f, "dagger.gen.go") || strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src[f] = string(b)
	}
	return src
}

func TestContractSideEffectsNeverCached(t *testing.T) {
	src := moduleSources(t)
	policies := cachePolicies(t, src)
	for _, fn := range []string{"publish", "commit", "push-artifact", "reconcile", "release"} {
		if _, ok := policies[fn]; !ok {
			t.Errorf("function %s not found in ci/", fn)
		}
	}
	for _, p := range cacheProblems(policies) {
		t.Error(p)
	}
	// The check fails when a pragma is dropped.
	for name, text := range src {
		if !strings.Contains(text, "func (m *Tandem) Release(") {
			continue
		}
		src[name] = strings.Replace(text, "// +cache=\"never\"\nfunc (m *Tandem) Release(", "func (m *Tandem) Release(", 1)
		if got := cacheProblems(cachePolicies(t, src)); len(got) != 1 || !strings.Contains(got[0], "function release") {
			t.Errorf("dropping Release's pragma: problems = %v", got)
		}
	}
}

// TestShippedBinaryLinksNoTestCode: the tandem binary links neither the testing package
// nor tandem's test helpers (internal/test*); the demo's control plane comes from
// internal/localcluster, which takes no testing.TB and runs etcd and kube-apiserver
// without controller-runtime's envtest (whose dependencies cost 6 ms of start-up). Nor
// client-go's Clientset or discovery, which register every API group at start-up
// (pkg/kube serves what tandem uses; binary 114 → 77 MB, init 32 → 24 ms traced).
func TestShippedBinaryLinksNoTestCode(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/tandem-ci/tandem/cmd/tandem").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 100 {
		t.Fatalf("go list -deps listed %d packages: %s", len(deps), out)
	}
	for _, d := range deps {
		if d == "testing" || strings.HasPrefix(d, "github.com/tandem-ci/tandem/internal/test") || strings.HasSuffix(d, "/releasetest") ||
			strings.HasPrefix(d, "sigs.k8s.io/controller-runtime") || d == "k8s.io/client-go/kubernetes" ||
			d == "k8s.io/client-go/kubernetes/scheme" || d == "k8s.io/client-go/discovery" {
			t.Errorf("cmd/tandem links %s", d)
		}
	}
}

// TestTestHelpersImportNoProductCode: internal/test* helpers import nothing from pkg/.
func TestTestHelpersImportNoProductCode(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join(root, "internal", "test*"))
	if len(dirs) == 0 {
		t.Fatal("no internal/test* helpers found")
	}
	fset := token.NewFileSet()
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			file, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range file.Imports {
				if strings.HasPrefix(strings.Trim(imp.Path.Value, `"`), "github.com/tandem-ci/tandem/pkg/") {
					t.Errorf("%s imports %s", f, imp.Path.Value)
				}
			}
		}
	}
}

// doorLogic are what a door must leave to the library: wiring a step, deriving a name,
// writing a default the library owns. A `+default=` pragma of the Dagger module is a
// declaration the engine reads (TestDoorsDagger checks it against pkg/ constants).
var doorLogic = regexp.MustCompile(`release\.(GoImages|PrebuiltImages|FluxReconciler|RolloutWatcher|GitCommitter|FluxArtifacts|Preflight)\{|naming\.Repositories\(|"flux-system"|"tandem@localhost"|"DATABASE_URL"|"postgres:17-alpine"|cluster\.FluxTargets\(`)

// TestDoorsHoldNoLogic: cmd/tandem (with the demo) and ci/ only translate: no step
// wiring, name derivation or library default in their code.
func TestDoorsHoldNoLogic(t *testing.T) {
	var found []string
	for _, dir := range []string{"cmd/tandem", "ci"} {
		filepath.WalkDir(filepath.Join(root, dir), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() && d.Name() == "internal" && strings.HasSuffix(filepath.Dir(p), "ci") {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") || strings.HasSuffix(p, "dagger.gen.go") {
				return nil
			}
			b, _ := os.ReadFile(p)
			for i, line := range strings.Split(string(b), "\n") {
				if doorLogic.MatchString(line) && !strings.Contains(line, "// +default=") {
					rel, _ := filepath.Rel(root, p)
					found = append(found, fmt.Sprintf("%s:%d: %s", rel, i+1, strings.TrimSpace(line)))
				}
			}
			return nil
		})
	}
	for _, f := range found {
		t.Errorf("door logic (belongs in pkg/): %s", f)
	}
}

// TestConsumerBindingsMatchModule (issue 22, item 4): the bindings the example consumer
// module (examples/go-postgres/.dagger) is built against hold every function of ci/ with
// the same arguments: required ones as parameters in order, optional ones (+optional,
// +default, +defaultPath) as fields of its Opts struct, named as the codegen names them.
// A function or argument renamed in ci/ without new bindings fails here.
func TestConsumerBindingsMatchModule(t *testing.T) {
	path := filepath.Join(root, "examples", "go-postgres", ".dagger", "internal", "dagger", "dagger.gen.go")
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	bindings := map[string]binding{} // "Tandem.Release", "Query.Tandem"
	structs := map[string][]string{}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil {
				continue
			}
			recv := strings.TrimPrefix(types.ExprString(d.Recv.List[0].Type), "*")
			var b binding
			for _, p := range d.Type.Params.List {
				for _, n := range p.Names {
					if n.Name == "ctx" {
						continue
					}
					if _, ok := p.Type.(*ast.Ellipsis); ok {
						b.opts = append(b.opts, types.ExprString(p.Type.(*ast.Ellipsis).Elt))
						continue
					}
					b.params = append(b.params, n.Name)
				}
			}
			bindings[recv+"."+d.Name.Name] = b
		case *ast.GenDecl:
			for _, sp := range d.Specs {
				if ts, ok := sp.(*ast.TypeSpec); ok {
					if st, ok := ts.Type.(*ast.StructType); ok {
						for _, fl := range st.Fields.List {
							for _, n := range fl.Names {
								structs[ts.Name.Name] = append(structs[ts.Name.Name], n.Name)
							}
						}
					}
				}
			}
		}
	}
	checked := 0
	for name, text := range moduleSources(t) {
		mf, err := parser.ParseFile(fset, name, text, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		cmap := ast.NewCommentMap(fset, mf, mf.Comments)
		for _, d := range mf.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || !tandemMethod(fd) {
				continue
			}
			checked += checkBinding(t, fd, cmap, bindings, structs)
		}
	}
	if checked < 12 {
		t.Errorf("checked %d functions, want the constructor and every function", checked)
	}
}

type binding struct {
	params []string
	opts   []string
}

// checkBinding compares ci/'s function fd with its binding; 1 when the binding exists.
func checkBinding(t *testing.T, fd *ast.FuncDecl, cmap ast.CommentMap, bindings map[string]binding, structs map[string][]string) int {
	t.Helper()
	{
		key, opts := "Tandem."+fd.Name.Name, "Tandem"+fd.Name.Name+"Opts"
		if fd.Recv == nil {
			key, opts = "Query.Tandem", "TandemOpts"
		}
		var required, optional []string
		for _, p := range fd.Type.Params.List {
			if types.ExprString(p.Type) == "context.Context" {
				continue
			}
			opt := false
			for _, g := range cmap[p] {
				for _, c := range g.List {
					opt = opt || strings.Contains(c.Text, "+optional") || strings.Contains(c.Text, "+default")
				}
			}
			for _, n := range p.Names {
				if opt {
					optional = append(optional, bindingName(n.Name))
				} else {
					required = append(required, n.Name)
				}
			}
		}
		b, ok := bindings[key]
		if !ok {
			t.Errorf("the consumer's bindings lack %s (ci/ has it): regenerate them", key)
			return 0
		}
		if strings.Join(b.params, ",") != strings.Join(required, ",") {
			t.Errorf("%s: bindings take %v, ci/ requires %v", key, b.params, required)
		}
		if len(optional) > 0 && (len(b.opts) != 1 || b.opts[0] != opts || strings.Join(structs[opts], ",") != strings.Join(optional, ",")) {
			t.Errorf("%s: bindings' options %v %v, ci/ has optional %v", key, b.opts, structs[opts], optional)
		}
	}
	return 1
}

// bindingName is an argument as Dagger's Go codegen names an Opts field: exported, Go
// initialisms upper-cased (repoUrl -> RepoURL, pipelineId -> PipelineID).
func bindingName(arg string) string {
	var words []string
	start := 0
	r := []rune(arg)
	for i := 1; i <= len(r); i++ {
		if i == len(r) || unicode.IsUpper(r[i]) {
			words = append(words, string(r[start:i]))
			start = i
		}
	}
	for i, w := range words {
		switch up := strings.ToUpper(w); up {
		case "ID", "URL", "JSON", "HTTP", "SSH", "API", "DNS":
			words[i] = up
		default:
			words[i] = strings.ToUpper(w[:1]) + w[1:]
		}
	}
	return strings.Join(words, "")
}
