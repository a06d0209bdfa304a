package lint

// Severity of a finding. Errors break the release; warnings deserve a look.
type Severity string

const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Rule describes one check.
type Rule struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Severity Severity `json:"severity"`
	Fix      string   `json:"fix"`
}

// The rules, one per mistake. IDs are stable: scripts may filter on them.
var (
	RuleBuild              = Rule{"TND000", "build-fails", SeverityError, "make `kustomize build` succeed (see the message)"}
	RuleJobNameTag         = Rule{"TND001", "job-name-without-tag", SeverityError, "name the Job <app>-migration and let a replacement append -<IMAGE_TAG> (delimiter '-', out-of-range index)"}
	RuleForce              = Rule{"TND002", "missing-force-annotation", SeverityError, "add annotation kustomize.toolkit.fluxcd.io/force: Enabled to the Job"}
	RuleBackoff            = Rule{"TND003", "backoff-limit", SeverityError, "set spec.backoffLimit: 0 (the default is 6 retries)"}
	RuleEnv                = Rule{"TND004", "env-mismatch", SeverityError, "give the migration container the same envFrom/env sources as the service container"}
	RuleWaitTarget         = Rule{"TND005", "init-waits-for-wrong-job", SeverityError, "make the waiter's args[1] exactly the built Job name (same replacement options as metadata.name)"}
	RuleOrder              = Rule{"TND006", "migration-after-deployment", SeverityWarning, "for kubectl apply -k, list migration-job.yaml before deployment.yaml and set sortOptions.order: fifo; under Flux the order gates nothing (kustomize-controller applies Deployments before Jobs): keep the waiter init container, it is the gate"}
	RuleImageTag           = Rule{"TND007", "image-tag-not-substituted", SeverityError, "append IMAGE_TAG to both images with replacements (delimiter ':', out-of-range index); leave no ${...}"}
	RuleReplacementIndex   = Rule{"TND008", "replacement-index", SeverityError, "point the replacement's index at the tag segment, or write the name without the tag and use an out-of-range index to append it"}
	RuleNames              = Rule{"TND009", "invalid-name", SeverityError, "use a lowercase DNS-1123 tag and a shorter app name: the Job name becomes the job-name label (63 characters)"}
	RuleRBAC               = Rule{"TND010", "waiter-rbac", SeverityError, "bind a Role allowing get/list/watch on batch jobs to the Deployment's serviceAccountName"}
	RuleWaiterMode         = Rule{"TND011", "waiter-mode", SeverityWarning, "use job-wr so the waiter waits for the Job to complete"}
	RuleTTL                = Rule{"TND012", "ttl-reruns-job", SeverityWarning, "remove spec.ttlSecondsAfterFinished: Flux prunes the previous release's Job when the next release lands (keep a TTL only where the folder is applied without prune)"}
	RuleRestartPolicy      = Rule{"TND013", "restart-policy", SeverityError, "set spec.template.spec.restartPolicy: Never"}
	RuleTTLRerun           = Rule{"TND014", "ttl-reruns-migration", SeverityWarning, "make the migration idempotent and record it with annotation tandem-ci.dev/migration-idempotent: \"true\" (tandem preflight proves it: it runs the migration twice)"}
	RuleDeploymentSelector = Rule{"TND015", "deployment-selector", SeverityError, "add spec.selector.matchLabels matching the pod template labels (required by apps/v1)"}
	RuleFluxSemver         = Rule{"TND017", "flux-semver", SeverityError, "set the OCIRepository's ref.semver to a range the release tags satisfy (e.g. >=1.0.0 for v1.<pipeline id>.0)"}
	RuleFluxURL            = Rule{"TND018", "flux-url", SeverityError, "point the OCIRepository's url at oci://<service image>/manifests, where the release pushes (or pass the same --artifact-repo to both)"}
	RuleFluxNamespace      = Rule{"TND019", "flux-namespace", SeverityError, "make the Flux Kustomization's targetNamespace the namespace the manifests use (the kustomization's namespace, the RoleBinding subject's)"}
	RuleCommandQuoting     = Rule{"TND016", "migration-command-quoting", SeverityError, `write one argument per list element without shell quotes, e.g. command: ["sh", "-c", "alembic upgrade head"] (tandem init --migration-command splits as a shell does)`}
)

// Rules lists every rule in ID order.
var Rules = []Rule{
	RuleBuild, RuleJobNameTag, RuleForce, RuleBackoff, RuleEnv, RuleWaitTarget, RuleOrder,
	RuleImageTag, RuleReplacementIndex, RuleNames, RuleRBAC, RuleWaiterMode, RuleTTL,
	RuleRestartPolicy, RuleTTLRerun, RuleDeploymentSelector, RuleCommandQuoting,
	RuleFluxSemver, RuleFluxURL, RuleFluxNamespace,
}
