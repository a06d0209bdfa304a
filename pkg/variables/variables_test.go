package variables_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-ci/tandem/pkg/variables"
)

var update = flag.Bool("update", false, "rewrite expected.yaml golden files")

const defaultTag = "v1.42.0"

// TestSetGolden rewrites each testdata/<case>/input.yaml and compares with expected.yaml
// byte for byte, then checks that only the scalar's bytes changed.
func TestSetGolden(t *testing.T) {
	cases, err := filepath.Glob("testdata/*/input.yaml")
	if err != nil || len(cases) < 8 {
		t.Fatalf("want at least 8 golden cases, found %d (%v)", len(cases), err)
	}
	for _, in := range cases {
		dir := filepath.Dir(in)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			newTag := defaultTag
			if b, err := os.ReadFile(filepath.Join(dir, "tag")); err == nil {
				newTag = strings.TrimSpace(string(b))
			}
			input := readFile(t, in)
			path := filepath.Join(t.TempDir(), "deployment-variables.yaml")
			if err := os.WriteFile(path, input, 0o640); err != nil {
				t.Fatal(err)
			}
			res, err := variables.SetFile(path, newTag)
			if err != nil {
				t.Fatalf("SetFile: %v", err)
			}
			if !res.Changed || res.New != newTag || res.Old == "" {
				t.Errorf("result = %+v", res)
			}
			got := readFile(t, path)
			golden := filepath.Join(dir, "expected.yaml")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if want := readFile(t, golden); !bytes.Equal(got, want) {
				t.Errorf("output differs from %s:\n--- got\n%s\n--- want\n%s", golden, got, want)
			}
			assertOnlyScalarChanged(t, input, got, res.Old, newTag)
			if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o640 {
				t.Errorf("permissions not kept: %v %v", info.Mode(), err)
			}
			if v, err := variables.ReadFile(path); err != nil || v != newTag {
				t.Errorf("ReadFile = %q, %v; want %q", v, err, newTag)
			}
		})
	}
}

// assertOnlyScalarChanged strips the common prefix and suffix: what remains must be the
// old and the new scalar (with their quotes).
func assertOnlyScalarChanged(t *testing.T, before, after []byte, old, newTag string) {
	t.Helper()
	p := 0
	for p < len(before) && p < len(after) && before[p] == after[p] {
		p++
	}
	s := 0
	for s < len(before)-p && s < len(after)-p && before[len(before)-1-s] == after[len(after)-1-s] {
		s++
	}
	oldPart, newPart := string(before[p:len(before)-s]), string(after[p:len(after)-s])
	if len(newPart) > len(newTag)+2 || len(oldPart) > len(old)+10 {
		t.Errorf("more than the scalar changed: %q -> %q", oldPart, newPart)
	}
}

func TestSetUnchanged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "deployment-variables.yaml")
	input := readFile(t, "testdata/double-quoted/input.yaml")
	if err := os.WriteFile(path, input, 0o644); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(path)
	res, err := variables.SetFile(path, "v1.2286938253.0")
	if !errors.Is(err, variables.ErrUnchanged) || res.Changed {
		t.Fatalf("SetFile same tag = %+v, %v; want ErrUnchanged", res, err)
	}
	after, _ := os.Stat(path)
	if !bytes.Equal(readFile(t, path), input) || !after.ModTime().Equal(before.ModTime()) {
		t.Error("file was touched")
	}
}

func TestSetFileBadInput(t *testing.T) {
	valid := readFile(t, "testdata/double-quoted/input.yaml")
	tests := []struct {
		name    string
		content string // written as the file unless setup replaces it
		tag     string
		setup   func(t *testing.T, dir, path string)
		wantErr string
		is      error
	}{
		{name: "missing file", tag: defaultTag, setup: func(t *testing.T, dir, path string) { os.Remove(path) },
			wantErr: "no such file or directory: create it with `tandem init`"},
		{name: "not YAML", content: "data: [unclosed\n", tag: defaultTag, wantErr: "parsing YAML (document 1)"},
		{name: "no deployment-variables ConfigMap", content: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-config\ndata:\n  IMAGE_TAG: \"v1\"\n",
			tag: defaultTag, wantErr: "no ConfigMap named deployment-variables", is: variables.ErrNotFound},
		{name: "missing IMAGE_TAG", content: "kind: ConfigMap\nmetadata:\n  name: deployment-variables\ndata:\n  TAG: \"v1\"\n",
			tag: defaultTag, wantErr: "has no data.IMAGE_TAG", is: variables.ErrNotFound},
		{name: "missing data", content: "kind: ConfigMap\nmetadata:\n  name: deployment-variables\n",
			tag: defaultTag, wantErr: "has no data map", is: variables.ErrNotFound},
		{name: "IMAGE_TAG not a string", content: "kind: ConfigMap\nmetadata:\n  name: deployment-variables\ndata:\n  IMAGE_TAG: 42\n",
			tag: defaultTag, wantErr: `data.IMAGE_TAG (line 5) is a int, not a string`},
		{name: "IMAGE_TAG a list", content: "kind: ConfigMap\nmetadata:\n  name: deployment-variables\ndata:\n  IMAGE_TAG: [a]\n",
			tag: defaultTag, wantErr: `is a list, not a string`},
		{name: "block scalar", content: "kind: ConfigMap\nmetadata:\n  name: deployment-variables\ndata:\n  IMAGE_TAG: |\n    v1\n",
			tag: defaultTag, wantErr: "is a block scalar"},
		{name: "invalid tag", content: string(valid), tag: "V1_BAD", wantErr: `invalid tag "V1_BAD"`},
		{name: "CR-only line endings", content: "kind: ConfigMap\rmetadata:\r  name: deployment-variables\rdata:\r  IMAGE_TAG: \"v1\"\r",
			tag: defaultTag, wantErr: "ends lines with CR only", is: variables.ErrNotYAML},
		{name: "UTF-16", content: "\xff\xfek\x00i\x00n\x00d\x00", tag: defaultTag, wantErr: "is UTF-16", is: variables.ErrNotYAML},
		{name: "duplicate IMAGE_TAG", content: "kind: ConfigMap\nmetadata:\n  name: deployment-variables\ndata:\n  IMAGE_TAG: \"v1\"\n  IMAGE_TAG: \"v2\"\n",
			tag: defaultTag, wantErr: "data.IMAGE_TAG appears 2 times (lines 5, 6)", is: variables.ErrAmbiguous},
		// Issue 19, item 13: a second data: key (kustomize rejects the file; the first used to be rewritten).
		{name: "two data keys", content: "kind: ConfigMap\nmetadata:\n  name: deployment-variables\ndata:\n  IMAGE_TAG: \"v1\"\ndata:\n  OTHER: x\n",
			tag: defaultTag, wantErr: `key "data" appears twice (lines 4 and 6)`, is: variables.ErrAmbiguous},
		{name: "two metadata keys", content: "kind: ConfigMap\nmetadata:\n  name: deployment-variables\nmetadata:\n  name: x\ndata:\n  IMAGE_TAG: \"v1\"\n",
			tag: defaultTag, wantErr: `key "metadata" appears twice (lines 2 and 4)`, is: variables.ErrAmbiguous},
		{name: "two ConfigMaps", content: "kind: ConfigMap\nmetadata:\n  name: deployment-variables\ndata:\n  IMAGE_TAG: \"v1\"\n---\nkind: ConfigMap\nmetadata:\n  name: deployment-variables\ndata:\n  IMAGE_TAG: \"v1\"\n",
			tag: defaultTag, wantErr: "two ConfigMaps named deployment-variables (lines 1 and 7)", is: variables.ErrAmbiguous},
		{name: "read-only file", content: string(valid), tag: defaultTag,
			setup: func(t *testing.T, dir, path string) { os.Chmod(path, 0o444) }, wantErr: "is read-only (mode -r--r--r--)"},
		{name: "symlink outside folder", tag: defaultTag, setup: func(t *testing.T, dir, path string) {
			outside := filepath.Join(t.TempDir(), "elsewhere.yaml")
			if err := os.WriteFile(outside, valid, 0o644); err != nil {
				t.Fatal(err)
			}
			os.Remove(path)
			if err := os.Symlink(outside, path); err != nil {
				t.Fatal(err)
			}
		}, wantErr: "symlink leads outside the folder", is: variables.ErrOutsideRoot},
		{name: "directory", tag: defaultTag, setup: func(t *testing.T, dir, path string) {
			os.Remove(path)
			os.Mkdir(path, 0o755)
		}, wantErr: "is not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "deployment-variables.yaml")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			if tt.setup != nil {
				tt.setup(t, dir, path)
			}
			before := snapshot(t, dir)
			_, err := variables.SetFile(path, tt.tag)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			if after := snapshot(t, dir); after != before {
				t.Errorf("folder changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

func TestSymlinkInsideFolderIsFollowed(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.yaml")
	if err := os.WriteFile(real, readFile(t, "testdata/plain/input.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "deployment-variables.yaml")
	if err := os.Symlink("real.yaml", link); err != nil {
		t.Fatal(err)
	}
	if _, err := variables.SetFile(link, defaultTag); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Error("symlink was replaced by a file")
	}
	if !bytes.Equal(readFile(t, real), readFile(t, "testdata/plain/expected.yaml")) {
		t.Error("link target not rewritten as expected")
	}
}

// snapshot lists every entry of dir with its mode and content.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		b.WriteString(p + " " + info.Mode().String())
		if info.Mode().IsRegular() {
			data, _ := os.ReadFile(p)
			b.Write(data)
		}
		b.WriteString(";")
		return nil
	})
	return b.String()
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
