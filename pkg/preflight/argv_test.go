package preflight

import (
	"slices"
	"testing"
)

// TestArgv: Kubernetes' rules for command/args over an image's entrypoint/cmd.
func TestArgv(t *testing.T) {
	ep, cmd := []string{"/app/notes"}, []string{"serve"}
	cases := []struct {
		name          string
		command, args []string
		want          []string
	}{
		{"image defaults", nil, nil, []string{"/app/notes", "serve"}},
		{"args replace cmd", nil, []string{"migrate", "up"}, []string{"/app/notes", "migrate", "up"}},
		{"command drops cmd", []string{"/app/notes", "migrate"}, nil, []string{"/app/notes", "migrate"}},
		{"command and args", []string{"/bin/migrate"}, []string{"up"}, []string{"/bin/migrate", "up"}},
	}
	for _, c := range cases {
		if got := Argv(ep, cmd, c.command, c.args); !slices.Equal(got, c.want) {
			t.Errorf("%s: Argv = %q, want %q", c.name, got, c.want)
		}
	}
}
