package manifest

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/tandem-ci/tandem/pkg/naming"
	"github.com/tandem-ci/tandem/pkg/tag"
)

// Defaults for Spec fields left empty.
const (
	DefaultWaiterImage = "groundnuty/k8s-wait-for:v2.0"
	// TandemWaiterImage is tandem's own waiter (`tandem waiter-image` builds it): it
	// takes the same arguments, fails fast when the Job fails and prints its log tail.
	TandemWaiterImage = "ghcr.io/tandem-ci/tandem:v0.1.0"
	DefaultWaiterMode = "job-wr"
	DefaultTag        = "v0.1.0"
	DefaultReplicas   = 2
	DefaultPort       = 8080
	DefaultTTLSeconds = 0 // none: Flux prunes the previous release's Job, so the migration runs once
	// InitContainerName is the waiter's container name the replacements select.
	InitContainerName = "wait-for-migration"
	// MigrationContainerName is the Job's container name.
	MigrationContainerName = "migrate"
	// ForceAnnotation makes Flux recreate the Job: Job templates are immutable.
	ForceAnnotation = "kustomize.toolkit.fluxcd.io/force"
	// IdempotentAnnotation records the owner's promise that the migration may run again
	// (a Job deleted before Flux prunes it is re-created and run again).
	IdempotentAnnotation = "tandem-ci.dev/migration-idempotent"
)

// ErrInvalidSpec marks a Spec that cannot be rendered.
var ErrInvalidSpec = errors.New("invalid spec")

// Spec describes one service shipped with its migration.
type Spec struct {
	App              string   `json:"app"`
	Namespace        string   `json:"namespace,omitempty"`
	Image            string   `json:"image"`                    // service image repository, without tag
	MigrationImage   string   `json:"migrationImage,omitempty"` // default: Image + "-migration"
	MigrationCommand []string `json:"migrationCommand"`
	ConfigMap        string   `json:"configMap,omitempty"` // env for both; default <app>-config
	Secret           string   `json:"secret,omitempty"`    // env for both; default <app>-secrets
	Replicas         *int32   `json:"replicas,omitempty"`  // nil: DefaultReplicas; 0 is kept (scaled to zero)
	Port             int32    `json:"port,omitempty"`
	WaiterImage      string   `json:"waiterImage,omitempty"`
	WaiterMode       string   `json:"waiterMode,omitempty"` // job-wr (default) or job
	WaiterLogs       bool     `json:"waiterLogs,omitempty"` // also grant get pods, pods/log (for tandem wait's log tail)
	Tag              string   `json:"tag,omitempty"`        // initial IMAGE_TAG
	TTLSeconds       int32    `json:"ttlSeconds,omitempty"`
}

// WithDefaults returns s with every empty optional field filled.
func (s Spec) WithDefaults() Spec {
	if s.MigrationImage == "" && s.Image != "" {
		s.MigrationImage = s.Image + naming.MigrationSuffix
	}
	if s.ConfigMap == "" {
		s.ConfigMap = s.App + "-config"
	}
	if s.Secret == "" {
		s.Secret = s.App + "-secrets"
	}
	if s.Replicas == nil {
		n := int32(DefaultReplicas)
		s.Replicas = &n
	}
	if s.Port == 0 {
		s.Port = DefaultPort
	}
	if s.WaiterImage == "" {
		s.WaiterImage = DefaultWaiterImage
	}
	if s.WaiterMode == "" {
		s.WaiterMode = DefaultWaiterMode
	}
	if s.Tag == "" {
		s.Tag = DefaultTag
	}
	return s
}

// Validate reports every problem of a defaulted Spec at once.
func (s Spec) Validate() error {
	var errs []string
	if s.App == "" {
		errs = append(errs, "app: required (e.g. my-shop)")
	} else if _, err := tag.JobName(s.App, s.Tag); err != nil {
		errs = append(errs, "app/tag: "+err.Error())
	}
	if s.Namespace != "" {
		if e := validation.IsDNS1123Label(s.Namespace); len(e) > 0 {
			errs = append(errs, fmt.Sprintf("namespace %q: %s", s.Namespace, strings.Join(e, "; ")))
		}
	}
	for _, f := range [][2]string{{"image", s.Image}, {"migrationImage", s.MigrationImage}} {
		if f[0] == "migrationImage" && s.Image == "" && f[1] == "" {
			continue // derived from image, already reported
		}
		switch err := naming.ValidateRepository(f[1]); {
		case err != nil && f[1] == "":
			errs = append(errs, f[0]+": "+err.Error())
		case err != nil:
			errs = append(errs, fmt.Sprintf("%s %q: %v", f[0], f[1], err))
		}
	}
	if len(s.MigrationCommand) == 0 {
		errs = append(errs, `migrationCommand: required (e.g. --migration-command "npx prisma migrate deploy")`)
	}
	for _, f := range [][2]string{{"configMap", s.ConfigMap}, {"secret", s.Secret}} {
		if e := validation.IsDNS1123Subdomain(f[1]); len(e) > 0 {
			errs = append(errs, fmt.Sprintf("%s %q: %s", f[0], f[1], strings.Join(e, "; ")))
		}
	}
	if s.Replicas != nil && *s.Replicas < 0 {
		errs = append(errs, fmt.Sprintf("replicas %d: must not be negative", *s.Replicas))
	}
	if s.Port < 1 || s.Port > 65535 {
		errs = append(errs, fmt.Sprintf("port %d: must be 1-65535", s.Port))
	}
	if _, err := name.ParseReference(s.WaiterImage); err != nil {
		errs = append(errs, fmt.Sprintf("waiterImage %q: %v", s.WaiterImage, err))
	}
	if s.WaiterMode != "job-wr" && s.WaiterMode != "job" {
		errs = append(errs, fmt.Sprintf("waiterMode %q: must be job-wr (wait for completion) or job", s.WaiterMode))
	}
	if s.TTLSeconds < 0 {
		errs = append(errs, fmt.Sprintf("ttlSeconds %d: must not be negative", s.TTLSeconds))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w:\n  %s", ErrInvalidSpec, strings.Join(errs, "\n  "))
	}
	return nil
}
