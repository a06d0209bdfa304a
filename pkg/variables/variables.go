package variables

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/tandem-ci/tandem/pkg/tag"
)

const (
	// ConfigMapName is the ConfigMap the pattern's replacements read the tag from.
	ConfigMapName = "deployment-variables"
	// Key is the data key holding the tag.
	Key = "IMAGE_TAG"
	// DefaultFile is where the pattern keeps the ConfigMap, relative to the repository.
	DefaultFile = "k8s/deployment-variables.yaml"
)

var (
	// ErrUnchanged is returned when IMAGE_TAG already holds the requested tag; nothing
	// is written.
	ErrUnchanged = errors.New("IMAGE_TAG already has this value")
	// ErrNotFound is returned when the file holds no ConfigMap deployment-variables or
	// the ConfigMap has no data.IMAGE_TAG.
	ErrNotFound = errors.New("not found")
	// ErrNotYAML is returned when the input does not parse as YAML.
	ErrNotYAML = errors.New("not valid YAML")
	// ErrAmbiguous is returned when the file holds two deployment-variables ConfigMaps
	// or two IMAGE_TAG keys: which one the build reads is not the file's to decide.
	ErrAmbiguous = errors.New("ambiguous")
)

// location is the IMAGE_TAG scalar found in a document.
type location struct {
	node *yaml.Node
}

// Find returns the current IMAGE_TAG of the deployment-variables ConfigMap in data.
func Find(data []byte) (string, error) {
	loc, err := find(data)
	if err != nil {
		return "", err
	}
	return loc.node.Value, nil
}

// Set returns data with IMAGE_TAG replaced by newTag, and the previous value. Only the
// bytes of the scalar change; its quoting style is kept unless a plain scalar would no
// longer read as a string. It returns ErrUnchanged when the value is already newTag.
func Set(data []byte, newTag string) (out []byte, old string, err error) {
	if err := tag.Validate(newTag); err != nil {
		return nil, "", err
	}
	loc, err := find(data)
	if err != nil {
		return nil, "", err
	}
	old = loc.node.Value
	if old == newTag {
		return nil, old, ErrUnchanged
	}
	start, end, err := span(data, loc.node)
	if err != nil {
		return nil, old, err
	}
	out = make([]byte, 0, len(data)+len(newTag))
	out = append(out, data[:start]...)
	out = append(out, render(loc.node.Style, newTag)...)
	out = append(out, data[end:]...)
	// Prove the edit: the result must parse and hold exactly the new value.
	if got, err := Find(out); err != nil || got != newTag {
		return nil, old, fmt.Errorf("rewriting %s: result does not read back as %q (got %q, %v); file left unchanged", Key, newTag, got, err)
	}
	return out, old, nil
}

// checkEncoding refuses what the YAML parser would misread: UTF-16 and CR-only line
// endings (classic Mac), where line numbers and byte offsets no longer agree.
func checkEncoding(data []byte) error {
	if bytes.HasPrefix(data, []byte{0xff, 0xfe}) || bytes.HasPrefix(data, []byte{0xfe, 0xff}) || bytes.IndexByte(data, 0) >= 0 {
		return fmt.Errorf("%w: the file is UTF-16 (or holds NUL bytes): save it as UTF-8", ErrNotYAML)
	}
	if i := bytes.IndexByte(data, '\r'); i >= 0 && (i+1 == len(data) || data[i+1] != '\n') {
		return fmt.Errorf("%w: the file ends lines with CR only (classic Mac): convert it to LF (or CRLF) line endings", ErrNotYAML)
	}
	return nil
}

func find(data []byte) (location, error) {
	if err := checkEncoding(data); err != nil {
		return location{}, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var found *location
	var firstLine int
	var firstErr error
	sawConfigMap := false
	for i := 0; ; i++ {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return location{}, fmt.Errorf("parsing YAML (document %d): %w: %w", i+1, ErrNotYAML, err)
		}
		if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
			continue
		}
		root := doc.Content[0]
		if scalar(root, "kind") != "ConfigMap" || scalar(child(root, "metadata"), "name") != ConfigMapName {
			continue
		}
		if sawConfigMap {
			return location{}, fmt.Errorf("two ConfigMaps named %s (lines %d and %d): %w: keep one", ConfigMapName, firstLine, root.Line, ErrAmbiguous)
		}
		sawConfigMap, firstLine = true, root.Line
		loc, err := inConfigMap(root)
		if err == nil {
			err = duplicateKeys(root)
		}
		if err != nil {
			firstErr = err
			continue
		}
		found = &loc
	}
	switch {
	case !sawConfigMap:
		return location{}, fmt.Errorf("no ConfigMap named %s: the file must hold the ConfigMap the kustomization's replacements read %s from: %w", ConfigMapName, Key, ErrNotFound)
	case firstErr != nil:
		return location{}, firstErr
	}
	return *found, nil
}

// duplicateKeys refuses a map (at any depth) holding a key twice: YAML parsers disagree
// on which one wins, and kustomize rejects the file.
func duplicateKeys(n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if first, ok := seen[k.Value]; ok {
				return fmt.Errorf("ConfigMap %s: key %q appears twice (lines %d and %d): %w: kustomize rejects the file; keep one", ConfigMapName, k.Value, first, k.Line, ErrAmbiguous)
			}
			seen[k.Value] = k.Line
		}
	}
	for _, c := range n.Content {
		if err := duplicateKeys(c); err != nil {
			return err
		}
	}
	return nil
}

// inConfigMap finds data.IMAGE_TAG in the deployment-variables ConfigMap root.
func inConfigMap(root *yaml.Node) (location, error) {
	dataNode := child(root, "data")
	if dataNode == nil || dataNode.Kind != yaml.MappingNode {
		return location{}, fmt.Errorf("ConfigMap %s has no data map: add data.%s: \"<tag>\": %w", ConfigMapName, Key, ErrNotFound)
	}
	var lines []string
	for i := 0; i+1 < len(dataNode.Content); i += 2 {
		if dataNode.Content[i].Value == Key {
			lines = append(lines, fmt.Sprint(dataNode.Content[i].Line))
		}
	}
	if len(lines) > 1 {
		return location{}, fmt.Errorf("data.%s appears %d times (lines %s): %w: keep one", Key, len(lines), strings.Join(lines, ", "), ErrAmbiguous)
	}
	v := child(dataNode, Key)
	if v == nil {
		return location{}, fmt.Errorf("ConfigMap %s has no data.%s: add %s: \"<tag>\" under data: %w", ConfigMapName, Key, Key, ErrNotFound)
	}
	if v.Kind == yaml.AliasNode {
		return location{}, fmt.Errorf("data.%s is an alias (*%s); write the tag as a quoted string", Key, v.Value)
	}
	if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!str" {
		return location{}, fmt.Errorf("data.%s (line %d) is %s, not a string: ConfigMap data values must be strings; quote it: %s: \"%s\"",
			Key, v.Line, describe(v), Key, v.Value)
	}
	if v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return location{}, fmt.Errorf("data.%s (line %d) is a block scalar; write it on one line as a quoted string", Key, v.Line)
	}
	return location{node: v}, nil
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a map"
	case yaml.SequenceNode:
		return "a list"
	}
	return "a " + strings.TrimPrefix(n.ShortTag(), "!!")
}

func child(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func scalar(m *yaml.Node, key string) string {
	if n := child(m, key); n != nil && n.Kind == yaml.ScalarNode {
		return n.Value
	}
	return ""
}

// span returns the byte range of scalar n in data, from the node's line and column.
func span(data []byte, n *yaml.Node) (int, int, error) {
	start, err := offset(data, n.Line, n.Column)
	if err != nil {
		return 0, 0, err
	}
	if n.Anchor != "" || n.Tag != "" && n.Style&yaml.TaggedStyle != 0 {
		return 0, 0, fmt.Errorf("data.%s (line %d) carries an anchor or tag; write it as a plain quoted string", Key, n.Line)
	}
	rest := data[start:]
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		for i := 1; i < len(rest); i++ {
			switch rest[i] {
			case '\\':
				i++
			case '"':
				return start, start + i + 1, nil
			}
		}
	case n.Style&yaml.SingleQuotedStyle != 0:
		for i := 1; i < len(rest); i++ {
			if rest[i] == '\'' {
				if i+1 < len(rest) && rest[i+1] == '\'' {
					i++
					continue
				}
				return start, start + i + 1, nil
			}
		}
	default:
		// A plain scalar on one line ends at a line break, at " #", or in flow context
		// at ',', ']' or '}'.
		end := 0
		for end < len(rest) && rest[end] != '\n' && rest[end] != '\r' {
			if rest[end] == '#' && end > 0 && (rest[end-1] == ' ' || rest[end-1] == '\t') {
				break
			}
			if rest[end] == ',' || rest[end] == '}' || rest[end] == ']' {
				break
			}
			end++
		}
		seg := strings.TrimRight(string(rest[:end]), " \t")
		if seg != n.Value {
			return 0, 0, fmt.Errorf("data.%s (line %d) spans several lines; write it on one line as a quoted string", Key, n.Line)
		}
		return start, start + len(seg), nil
	}
	return 0, 0, fmt.Errorf("data.%s (line %d): closing quote not found", Key, n.Line)
}

// offset converts a 1-based line and rune column into a byte offset.
func offset(data []byte, line, col int) (int, error) {
	off := 0
	if line == 1 && bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		off = 3 // the parser counts columns after a UTF-8 byte order mark
	}
	for l := 1; l < line; l++ {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			return 0, fmt.Errorf("locating data.%s: line %d is past the end of the file", Key, line)
		}
		off += i + 1
	}
	for c := 1; c < col; c++ {
		_, size := utf8.DecodeRune(data[off:])
		off += size
	}
	if off > len(data) {
		return 0, fmt.Errorf("locating data.%s: column %d is past the end of line %d", Key, col, line)
	}
	return off, nil
}

// render writes value in the given style. A plain scalar that YAML would read as a
// number, boolean or null (e.g. 1.5) is double-quoted instead.
func render(style yaml.Style, value string) string {
	switch {
	case style&yaml.DoubleQuotedStyle != 0:
		return `"` + value + `"`
	case style&yaml.SingleQuotedStyle != 0:
		return `'` + value + `'`
	}
	var probe yaml.Node
	if err := yaml.Unmarshal([]byte(value), &probe); err != nil || len(probe.Content) != 1 || probe.Content[0].ShortTag() != "!!str" {
		return `"` + value + `"`
	}
	return value
}
