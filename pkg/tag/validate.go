package tag

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// MaxJobNameLength is the limit on the migration Job's name: the Job controller copies
// it into the `job-name` label of its pods, and label values end at 63 characters.
const MaxJobNameLength = validation.LabelValueMaxLength

// MaxTagLength is the OCI distribution limit on a tag.
const MaxTagLength = 128

// ErrInvalid marks every validation failure; errors.Is(err, ErrInvalid) tells them apart
// from I/O errors.
var ErrInvalid = errors.New("invalid")

// ociTag is the OCI tag grammar without its length bound (MaxTagLength, checked first):
// a counted repetition would compile into 128 copies of the class at start-up.
var ociTag = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]*$`)

// ValidationError says which rule a value broke.
type ValidationError struct {
	What  string // "tag", "app name", "job name"
	Value string
	Rule  string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("invalid %s %q: %s", e.What, e.Value, e.Rule)
}

// Unwrap lets errors.Is(err, ErrInvalid) match.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// Validate checks that t is a valid OCI tag and can name a Kubernetes Job: lowercase,
// since Job names are DNS-1123 subdomains.
func Validate(t string) error {
	switch {
	case t == "":
		return &ValidationError{What: "tag", Value: t, Rule: "must not be empty"}
	case len(t) > MaxTagLength:
		return &ValidationError{What: "tag", Value: t, Rule: fmt.Sprintf("is %d characters, the OCI limit is %d", len(t), MaxTagLength)}
	case !ociTag.MatchString(t):
		return &ValidationError{What: "tag", Value: t, Rule: "an OCI tag may contain only letters, digits, '_', '.' and '-', and must not start with '.' or '-'"}
	case strings.ToLower(t) != t:
		return &ValidationError{What: "tag", Value: t, Rule: "must be lowercase: it becomes part of the migration Job's name, a DNS-1123 name"}
	case strings.Contains(t, "_"):
		return &ValidationError{What: "tag", Value: t, Rule: "must not contain '_': it becomes part of the migration Job's name, a DNS-1123 name"}
	case !isAlnum(t[len(t)-1]):
		return &ValidationError{What: "tag", Value: t, Rule: "must end with a letter or digit: it ends the migration Job's name, a DNS-1123 name"}
	}
	return nil
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// JobName returns `<app>-migration-<tag>` after checking it is a lowercase DNS-1123 name
// of at most MaxJobNameLength characters.
func JobName(app, t string) (string, error) {
	if err := ValidateApp(app); err != nil {
		return "", err
	}
	if err := Validate(t); err != nil {
		return "", err
	}
	name := MigrationBase(app) + "-" + t
	if len(name) > MaxJobNameLength {
		return "", &ValidationError{What: "job name", Value: name, Rule: fmt.Sprintf(
			"is %d characters, the limit is %d (it becomes the job-name label); shorten the app name or the tag by %d",
			len(name), MaxJobNameLength, len(name)-MaxJobNameLength)}
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return "", &ValidationError{What: "job name", Value: name, Rule: strings.Join(errs, "; ")}
	}
	return name, nil
}

// MigrationBase is the migration Job's name before the tag is appended.
func MigrationBase(app string) string { return app + "-migration" }

// ValidateApp checks that app can name a Deployment, a ServiceAccount and a container:
// a DNS-1123 label.
func ValidateApp(app string) error {
	if errs := validation.IsDNS1123Label(app); len(errs) > 0 {
		return &ValidationError{What: "app name", Value: app, Rule: strings.Join(errs, "; ")}
	}
	return nil
}
