package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/client-go/dynamic"

	"github.com/tandem-ci/tandem/pkg/cluster"
	"github.com/tandem-ci/tandem/pkg/kube"
	"github.com/tandem-ci/tandem/pkg/release"
	"github.com/tandem-ci/tandem/pkg/waiter"
)

// clusterFlags are shared by the commands talking to Kubernetes.
type clusterFlags struct {
	kubeconfig, namespace string
	timeout               time.Duration
}

// defaultTimeout bounds every network step and wait unless --timeout says otherwise.
const defaultTimeout = release.DefaultTimeout

func (f *clusterFlags) bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG, ~/.kube/config, or in-cluster)")
	fs.StringVarP(&f.namespace, "namespace", "n", "", "namespace (default: the context's, or the pod's)")
	fs.DurationVar(&f.timeout, "timeout", defaultTimeout, "give up after this long (in a release: the deadline of each step)")
}

// checkTimeout refuses a deadline that would silently mean none.
func checkTimeout(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("--timeout %s: must be positive (e.g. 10m); there is no \"no deadline\"", d)
	}
	return nil
}

func (f *clusterFlags) clients() (kube.Interface, dynamic.Interface, string, error) {
	if err := checkTimeout(f.timeout); err != nil {
		return nil, nil, "", err
	}
	cfg, ns, err := waiter.Config(f.kubeconfig, f.namespace)
	if err != nil {
		return nil, nil, "", err
	}
	cfg.UserAgent = "tandem"
	kube, err := kube.NewForConfig(cfg)
	if err != nil {
		return nil, nil, "", err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	return kube, dyn, ns, err
}

// newWaitCmds returns `tandem wait` and the k8s-wait-for compatible `job-wr`/`job`.
func newWaitCmds() []*cobra.Command {
	var f clusterFlags
	var missing time.Duration
	var lines int64
	run := func(cmd *cobra.Command, name string) error {
		kube, _, ns, err := f.clients()
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "waiting for job %s/%s\n", ns, name)
		res, err := cluster.WaitForJob(cmd.Context(), kube, ns, name, waiter.WithTimeout(f.timeout), waiter.WithMissingTimeout(missing), waiter.WithLogLines(lines))
		if errors.Is(err, waiter.ErrJobFailed) {
			w := cmd.ErrOrStderr()
			if res.Logs != "" {
				fmt.Fprintf(w, "--- last %d log lines of pod %s ---\n%s\n---\n", lines, res.Pod, strings.TrimRight(res.Logs, "\n"))
			} else if res.LogError != "" {
				fmt.Fprintln(w, "log tail unavailable:", res.LogError)
			}
		}
		if err != nil {
			return err
		}
		return emit(cmd, res, func(w io.Writer) {
			fmt.Fprintf(w, "job %s/%s complete after %s\n", ns, name, res.Waited.Round(time.Millisecond))
		})
	}
	bind := func(c *cobra.Command) *cobra.Command {
		f.bind(c.Flags())
		c.Flags().DurationVar(&missing, "missing-timeout", waiter.DefaultMissingTimeout, "fail when the Job does not exist for this long (e.g. deleted by ttlSecondsAfterFinished)")
		c.Flags().Int64Var(&lines, "log-lines", 20, "lines of the failed pod's log to print")
		return c
	}
	wait := bind(&cobra.Command{
		Use:   "wait job NAME",
		Short: "Init container: wait until the migration Job completes; exit non-zero at once when it fails",
		Long: "Drop-in for groundnuty/k8s-wait-for: `tandem wait job NAME`, or `tandem job-wr NAME` / `tandem job NAME`\n" +
			"with the same arguments as k8s-wait-for (both wait for completion and fail fast on failure).",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] != "job" && args[0] != "job-wr" {
				return fmt.Errorf("tandem wait %s: only jobs can be waited for (tandem wait job NAME)", args[0])
			}
			return run(cmd, args[1])
		},
	})
	var compat []*cobra.Command
	for _, mode := range []string{"job-wr", "job"} {
		compat = append(compat, bind(&cobra.Command{
			Use:    mode + " NAME",
			Short:  "k8s-wait-for compatible form of `tandem wait job NAME`",
			Hidden: true,
			Args:   cobra.ExactArgs(1),
			RunE:   func(cmd *cobra.Command, args []string) error { return run(cmd, args[0]) },
		}))
	}
	return append([]*cobra.Command{wait}, compat...)
}

func newReconcileCmd() *cobra.Command {
	var f clusterFlags
	var source, kustomization, fluxNamespace string
	cmd := &cobra.Command{
		Use:   "reconcile",
		Short: "Ask Flux to reconcile the OCIRepository (then the Kustomization) and wait until Ready",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The Flux objects live in Flux's namespace, not the kube context's (as in
			// release --reconcile); -n is kept as a synonym for scripts that pass it.
			if cmd.Flags().Changed("namespace") && !cmd.Flags().Changed("flux-namespace") {
				fluxNamespace = f.namespace
			}
			f.namespace = fluxNamespace
			_, dyn, ns, err := f.clients()
			if err != nil {
				return err
			}
			res, err := cluster.Reconcile(cmd.Context(), dyn, f.timeout, release.FluxTargets(ns, source, kustomization)...)
			if err != nil {
				return err
			}
			return emit(cmd, res, func(w io.Writer) {
				for _, r := range res {
					fmt.Fprintf(w, "%s ready at %s after %s\n", r.Object, r.Revision, r.Duration.Round(time.Millisecond))
				}
			})
		},
	}
	f.bind(cmd.Flags())
	cmd.Flags().StringVar(&source, "source", env("CI_PROJECT_NAME"), "OCIRepository name ($CI_PROJECT_NAME)")
	cmd.Flags().StringVar(&kustomization, "kustomization", "", "Kustomization name (default: same as --source; \"-\" to skip)")
	cmd.Flags().StringVar(&fluxNamespace, "flux-namespace", release.DefaultFluxNamespace, "namespace of the Flux OCIRepository and Kustomization (-n is a synonym)")
	return cmd
}

func newWatchCmd() *cobra.Command {
	var f clusterFlags
	var app, releaseTag string
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Follow a release in the cluster: migration Job, then the Deployment rollout; fail fast with the Job's reason",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kube, _, ns, err := f.clients()
			if err != nil {
				return err
			}
			res, err := cluster.WatchRelease(cmd.Context(), kube, ns, app, releaseTag, f.timeout)
			if err != nil {
				if res.Job.Logs != "" {
					fmt.Fprintf(cmd.ErrOrStderr(), "--- log tail of %s ---\n%s\n", res.Job.Pod, strings.TrimRight(res.Job.Logs, "\n"))
				}
				return err
			}
			return emit(cmd, res, func(w io.Writer) {
				fmt.Fprintf(w, "migration %s complete after %s; deployment %s %d/%d available after %s more\n",
					res.Job.Name, res.JobWait.Round(time.Millisecond), res.Deployment, res.Available, res.Replicas, res.RolloutWait.Round(time.Millisecond))
			})
		},
	}
	f.bind(cmd.Flags())
	cmd.Flags().StringVar(&app, "app", env("CI_PROJECT_NAME"), "app name ($CI_PROJECT_NAME)")
	cmd.Flags().StringVar(&releaseTag, "tag", env("TANDEM_TAG"), "release tag to follow")
	return cmd
}
