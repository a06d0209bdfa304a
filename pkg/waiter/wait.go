package waiter

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
)

var (
	// ErrJobFailed is returned when the migration Job reached its Failed condition.
	ErrJobFailed = errors.New("migration job failed")
	// ErrJobMissing is returned when the Job did not exist within the missing timeout.
	ErrJobMissing = errors.New("migration job not found")
	// ErrForbidden is returned when RBAC denies reading Jobs.
	ErrForbidden = errors.New("forbidden")
	// ErrTimeout is returned when the overall timeout passed first.
	ErrTimeout = errors.New("timed out")
)

// LogTailTimeout bounds reading the failed pod's log tail after the Job failed.
var LogTailTimeout = 10 * time.Second

// JobRule is the Role rule the waiter needs.
const JobRule = `{apiGroups: ["batch"], resources: ["jobs"], verbs: ["get", "list", "watch"]}`

// JobResult is how a Job ended.
type JobResult struct {
	Namespace string        `json:"namespace"`
	Name      string        `json:"name"`
	Succeeded bool          `json:"succeeded"`
	Reason    string        `json:"reason,omitempty"`
	Message   string        `json:"message,omitempty"`
	Pod       string        `json:"pod,omitempty"`
	Logs      string        `json:"logs,omitempty"`
	LogError  string        `json:"logError,omitempty"`
	Waited    time.Duration `json:"waited"`
}

type waitOptions struct {
	timeout, missingTimeout time.Duration
	logLines                int64
}

// WaitOption configures WaitForJob.
type WaitOption func(*waitOptions)

// WithTimeout bounds the whole wait (default 0: no limit besides the context).
func WithTimeout(d time.Duration) WaitOption { return func(o *waitOptions) { o.timeout = d } }

// DefaultTimeout is the doors' deadline of a wait (the commands' --timeout) and, as
// release.DefaultTimeout, of every release step.
const DefaultTimeout = 10 * time.Minute

// DefaultMissingTimeout is how long a missing Job is waited for unless WithMissingTimeout.
const DefaultMissingTimeout = 5 * time.Minute

// WithMissingTimeout bounds how long a missing Job is waited for (default 5m).
func WithMissingTimeout(d time.Duration) WaitOption {
	return func(o *waitOptions) { o.missingTimeout = d }
}

// WithLogLines sets how many lines of the failed pod's log are returned (default 20).
func WithLogLines(n int64) WaitOption { return func(o *waitOptions) { o.logLines = n } }

// WaitForJob watches Job ns/name until it is Complete (nil error) or Failed
// (ErrJobFailed, with the reason and the failed pod's log tail when RBAC allows). The
// watch is list+watch from a resourceVersion and is re-established when it drops.
func WaitForJob(ctx context.Context, kube Client, ns, name string, opts ...WaitOption) (JobResult, error) {
	o := waitOptions{missingTimeout: DefaultMissingTimeout, logLines: 20}
	for _, opt := range opts {
		opt(&o)
	}
	start := time.Now()
	res := JobResult{Namespace: ns, Name: name}
	parent := ctx
	// The deadline covers every call, the first one included: an API server that
	// accepts and never answers must not hang an init container or a CI job.
	if o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	listJobs := func(ctx context.Context, o metav1.ListOptions) (*batchv1.JobList, error) {
		return kube.ListJobs(ctx, ns, o)
	}
	watchJobs := func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
		return kube.WatchJobs(ctx, ns, o)
	}
	sel := fields.OneTermEqualSelector("metadata.name", name).String()
	if _, err := listJobs(ctx, metav1.ListOptions{FieldSelector: sel, Limit: 1}); err != nil {
		if ctxErr := ContextError(ctx, o.timeout); ctxErr != nil {
			return res, fmt.Errorf("listing job %s/%s: %w", ns, name, ctxErr)
		}
		return res, describeAPIError(err, ns, fmt.Sprintf("listing job %s/%s", ns, name))
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	m := newMissingTimer(o.missingTimeout, func() { cancel(ErrJobMissing) })
	defer m.stop()

	lw := ByName(name, listJobs, watchJobs)
	var final *batchv1.Job
	var seen atomic.Bool
	_, err := watchtools.UntilWithSync(ctx, lw, &batchv1.Job{}, func(store cache.Store) (bool, error) {
		if len(store.List()) == 0 {
			m.arm()
		}
		return false, nil
	}, func(ev watch.Event) (bool, error) {
		job, ok := ev.Object.(*batchv1.Job)
		if !ok {
			return false, nil
		}
		if ev.Type == watch.Deleted {
			m.arm()
			return false, nil
		}
		m.disarm()
		seen.Store(true)
		if done, _ := Finished(job); done {
			final = job
			return true, nil
		}
		return false, nil
	})
	res.Waited = time.Since(start)
	if err != nil {
		switch cause := context.Cause(ctx); {
		case parent.Err() != nil:
			return res, fmt.Errorf("waiting for job %s/%s: %w", ns, name, context.Cause(parent))
		case errors.Is(cause, ErrJobMissing), errors.Is(cause, context.DeadlineExceeded) && !seen.Load():
			return res, fmt.Errorf("job %s/%s %w after %s: it was never created (is the release applied?), or it was deleted: by ttlSecondsAfterFinished (remove it: Flux prunes the previous release's Job, so pods started long after the release, e.g. on scale-up, find it) or by hand (Flux re-creates it at its next interval)",
				ns, name, ErrJobMissing, res.Waited.Round(time.Millisecond))
		case errors.Is(cause, context.DeadlineExceeded):
			return res, fmt.Errorf("waiting for job %s/%s: %w after %s", ns, name, ErrTimeout, res.Waited.Round(time.Second))
		}
		return res, fmt.Errorf("waiting for job %s/%s: %w", ns, name, err)
	}
	ok, cond := Finished(final)
	if ok && cond == nil {
		res.Succeeded = true
		return res, nil
	}
	res.Reason, res.Message = cond.Reason, cond.Message
	// The log tail has its own short deadline under the caller's context: the Job has
	// failed, the waiter must exit even if the API server stalls now (and on SIGTERM).
	logCtx, cancelLogs := context.WithTimeout(parent, LogTailTimeout)
	defer cancelLogs()
	res.Pod, res.Logs, res.LogError = failedPodLogs(logCtx, kube, ns, name, o.logLines)
	return res, fmt.Errorf("job %s/%s: %w: %s: %s", ns, name, ErrJobFailed, res.Reason, res.Message)
}

// Finished reports whether job is done; cond is its failure condition, nil on success.
func Finished(job *batchv1.Job) (bool, *batchv1.JobCondition) {
	for i := range job.Status.Conditions {
		c := &job.Status.Conditions[i]
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return true, nil
		case batchv1.JobFailed, batchv1.JobFailureTarget:
			return true, c
		}
	}
	return false, nil
}

// failedPodLogs returns the tail of the log of the Job's failed pod. RBAC may forbid
// it; that is reported, not fatal.
func failedPodLogs(ctx context.Context, kube Client, ns, job string, lines int64) (pod, logs, logErr string) {
	pods, err := kube.ListPods(ctx, ns, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + job})
	if err != nil {
		return "", "", fmt.Sprintf("cannot list the job's pods (%v); grant get/list on pods and get on pods/log to see the log tail", shortErr(err))
	}
	var p *corev1.Pod
	for i := range pods.Items {
		if pods.Items[i].Status.Phase == corev1.PodFailed || p == nil {
			p = &pods.Items[i]
		}
	}
	if p == nil {
		return "", "", "the job has no pods left"
	}
	b, err := kube.PodLogs(ctx, ns, p.Name, &corev1.PodLogOptions{TailLines: &lines})
	if err != nil {
		return p.Name, "", fmt.Sprintf("cannot read the log of pod %s (%v)", p.Name, shortErr(err))
	}
	if len(b) == 0 {
		return p.Name, "", fmt.Sprintf("pod %s logged nothing (or its node serves no logs)", p.Name)
	}
	return p.Name, string(b), ""
}

// ContextError says why a call ended when its context did: the caller cancelled (a
// signal), or the deadline passed with the API server silent. nil when ctx is live.
func ContextError(ctx context.Context, timeout time.Duration) error {
	switch {
	case ctx.Err() == nil:
		return nil
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%w after %s: the API server did not answer (check the kubeconfig's server and the network)", ErrTimeout, timeout)
	}
	return context.Cause(ctx)
}

func shortErr(err error) string {
	if s := apierrors.ReasonForError(err); s != "" {
		return string(s)
	}
	return err.Error()
}

// describeAPIError names the RBAC rule needed when the API server says Forbidden.
func describeAPIError(err error, ns, doing string) error {
	if apierrors.IsForbidden(err) {
		return fmt.Errorf("%s: %w: the ServiceAccount needs a Role in namespace %s with rule %s bound to it (%v)", doing, ErrForbidden, ns, JobRule, err)
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// missingTimer fires once the Job has been absent for d without interruption.
type missingTimer struct {
	mu   sync.Mutex
	d    time.Duration
	t    *time.Timer
	fire func()
}

func newMissingTimer(d time.Duration, fire func()) *missingTimer {
	return &missingTimer{d: d, fire: fire}
}

func (m *missingTimer) arm() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.t == nil {
		m.t = time.AfterFunc(m.d, m.fire)
	}
}

func (m *missingTimer) disarm() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.t != nil {
		m.t.Stop()
		m.t = nil
	}
}

func (m *missingTimer) stop() { m.disarm() }
