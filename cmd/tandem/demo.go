package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/tandem-ci/tandem/cmd/tandem/internal/demo"
)

func newDemoCmd() *cobra.Command {
	cfg := demo.DefaultConfig()
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Ship examples/go-postgres end to end on this machine: registry, git server, images, commit, artifact (and --cluster)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := outputFormat(cmd)
			if err != nil {
				return err
			}
			if format == "text" {
				cfg.Out = cmd.OutOrStdout()
			}
			res, err := demo.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			return emit(cmd, res, func(w io.Writer) {
				fmt.Fprintf(w, "\n%-4s %-9s %9s\n", "step", "name", "duration")
				for _, s := range res.Steps {
					fmt.Fprintf(w, "%-4d %-9s %9s\n", s.N, s.Name, s.Duration.Round(time.Millisecond))
				}
				fmt.Fprintf(w, "%-14s %9s\n", "total", res.Total.Round(time.Millisecond))
				if !cfg.Cluster {
					fmt.Fprintln(w, "\nNext: `go run ./cmd/tandem demo --cluster` applies it to a local control plane (build it once with `bash hack/testenv.sh`).")
				}
			})
		},
	}
	cmd.Flags().BoolVar(&cfg.Cluster, "cluster", false, "also start a local control plane (hack/testenv.sh binaries) and show the Job gating the Deployment and a failing migration")
	cmd.Flags().StringVar(&cfg.Example, "example", cfg.Example, "example folder (a Go module with k8s/)")
	cmd.Flags().StringVar(&cfg.Package, "package", cfg.Package, "the example's service package")
	cmd.Flags().StringVar(&cfg.App, "app", cfg.App, "the example's app name")
	return cmd
}
