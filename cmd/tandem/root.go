package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "tandem",
		Short:         "Ship a service and its database migration in tandem to Kubernetes with Flux",
		SilenceUsage:  true,
		SilenceErrors: true,
		// The reference in docs/cli is generated from these commands; no date in it.
		DisableAutoGenTag: true,
	}
	root.PersistentFlags().StringP("output", "o", "text", "output format: text or json")
	root.AddCommand(newInitCmd(), newRenderCmd(), newLintCmd(), newBumpCmd(), newTagCmd(),
		newReleaseCmd(), newRollbackCmd(), newStatusCmd(), newImagesCmd(), newPreflightCmd(), newCommitCmd(), newPushArtifactCmd(),
		newReconcileCmd(), newWatchCmd(), newWaiterImageCmd(), newDemoCmd())
	root.AddCommand(newWaitCmds()...)
	return root
}

// env returns the first non-empty environment variable of names.
func env(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

func outputFormat(cmd *cobra.Command) (string, error) {
	f, _ := cmd.Flags().GetString("output")
	if f != "text" && f != "json" {
		return "", fmt.Errorf("--output %q: use text or json", f)
	}
	return f, nil
}

// emit prints v as JSON with --output json, or calls text otherwise.
func emit(cmd *cobra.Command, v any, text func(w io.Writer)) error {
	f, err := outputFormat(cmd)
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	if f == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	text(w)
	return nil
}

// firstOf returns the first non-empty value.
func firstOf(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
