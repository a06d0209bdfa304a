package status_test

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ci/tandem/pkg/status"
)

// schemaOf is a JSON Schema (draft 2020-12) of t, from its Go fields and json tags.
func schemaOf(t reflect.Type) map[string]any {
	if t == reflect.TypeOf(time.Time{}) {
		return map[string]any{"type": "string", "format": "date-time"}
	}
	if t == reflect.TypeOf(time.Duration(0)) {
		return map[string]any{"type": "integer", "description": "nanoseconds"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return schemaOf(t.Elem())
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem())}
	case reflect.Struct:
		props := map[string]any{}
		var required []string
		var walk func(t reflect.Type)
		walk = func(t reflect.Type) {
			for i := 0; i < t.NumField(); i++ {
				f := t.Field(i)
				if !f.IsExported() {
					continue
				}
				tag := f.Tag.Get("json")
				name, opts, _ := strings.Cut(tag, ",")
				if f.Anonymous && name == "" {
					walk(f.Type)
					continue
				}
				if name == "-" {
					continue
				}
				if name == "" {
					name = f.Name
				}
				props[name] = schemaOf(f.Type)
				if !strings.Contains(opts, "omitempty") {
					required = append(required, name)
				}
			}
		}
		walk(t)
		return map[string]any{"type": "object", "properties": props, "required": required}
	}
	return map[string]any{}
}

// TestStatusSchema: docs/status.schema.json is the JSON Schema of `tandem status -o json`
// (status.Report), regenerated with TANDEM_UPDATE_DOCS=1.
func TestStatusSchema(t *testing.T) {
	s := schemaOf(reflect.TypeOf(status.Report{}))
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["title"] = "tandem status -o json (pkg/status.Report)"
	b, _ := json.MarshalIndent(s, "", "  ")
	b = append(b, '\n')
	path := "../../docs/status.schema.json"
	if os.Getenv("TANDEM_UPDATE_DOCS") != "" {
		os.WriteFile(path, b, 0o644)
	}
	have, err := os.ReadFile(path)
	if err != nil || string(have) != string(b) {
		t.Errorf("%s is stale (%v): run TANDEM_UPDATE_DOCS=1 go test ./pkg/status", path, err)
	}
}
