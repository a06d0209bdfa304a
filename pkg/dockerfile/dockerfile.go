package dockerfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Plan says how to produce the migration image.
type Plan struct {
	// Derive is true when the migration image reuses the service build.
	Derive bool `json:"derive"`
	// Entrypoint and Cmd of the derived image (both nil: none, the Job gives the command).
	Entrypoint []string `json:"entrypoint,omitempty"`
	Cmd        []string `json:"cmd,omitempty"`
	Reason     string   `json:"reason"`
}

// ErrEmpty is returned for a Dockerfile without instructions.
var ErrEmpty = errors.New("no instructions")

// PlanMigration compares the service Dockerfile with the migration Dockerfile (nil when
// the file does not exist).
func PlanMigration(service, migration []byte) (Plan, error) {
	svc, err := parse(service)
	if err != nil {
		return Plan{}, fmt.Errorf("parsing Dockerfile: %w", err)
	}
	if migration == nil {
		return Plan{Derive: true, Reason: "no Dockerfile.migration: the migration image is the service build without ENTRYPOINT/CMD"}, nil
	}
	mig, err := parse(migration)
	if err != nil {
		return Plan{}, fmt.Errorf("parsing Dockerfile.migration: %w", err)
	}
	a, b := withoutCommands(svc), withoutCommands(mig)
	if len(a) != len(b) {
		return Plan{Reason: fmt.Sprintf("Dockerfile.migration has %d build instructions, Dockerfile %d: building it separately", len(b), len(a))}, nil
	}
	for i := range a {
		if a[i] != b[i] {
			return Plan{Reason: fmt.Sprintf("instruction %d differs (%q vs %q): building Dockerfile.migration separately", i+1, a[i].text, b[i].text)}, nil
		}
	}
	p := Plan{Derive: true, Reason: "Dockerfile.migration differs only in CMD/ENTRYPOINT: one build serves both images"}
	for _, in := range mig {
		switch in.keyword {
		case "ENTRYPOINT":
			p.Entrypoint = in.args()
		case "CMD":
			p.Cmd = in.args()
		}
	}
	return p, nil
}

type instruction struct {
	keyword string
	text    string // the arguments, whitespace-normalized
}

// args reads exec form (JSON array) or shell form.
func (in instruction) args() []string {
	var exec []string
	if json.Unmarshal([]byte(in.text), &exec) == nil {
		return exec
	}
	return []string{"/bin/sh", "-c", in.text}
}

func withoutCommands(ins []instruction) []instruction {
	var out []instruction
	for _, in := range ins {
		if in.keyword != "CMD" && in.keyword != "ENTRYPOINT" {
			out = append(out, in)
		}
	}
	return out
}

// parse splits a Dockerfile into instructions: comments dropped, continuation lines
// joined, keywords upper-cased, whitespace collapsed.
func parse(data []byte) ([]instruction, error) {
	var ins []instruction
	var cur strings.Builder
	flush := func() {
		line := strings.Join(strings.Fields(cur.String()), " ")
		cur.Reset()
		if line == "" {
			return
		}
		kw, rest, _ := strings.Cut(line, " ")
		kw = strings.ToUpper(kw)
		if f := strings.Fields(rest); kw == "FROM" && len(f) >= 3 && strings.EqualFold(f[len(f)-2], "as") {
			f[len(f)-2] = "AS" // stage names are case-insensitive keywords
			rest = strings.Join(f, " ")
		}
		ins = append(ins, instruction{keyword: kw, text: rest})
	}
	for _, raw := range strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n") {
		line := strings.TrimSpace(raw)
		if strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\") + " ")
			continue
		}
		cur.WriteString(line)
		flush()
	}
	flush()
	if len(ins) == 0 {
		return nil, ErrEmpty
	}
	return ins, nil
}
