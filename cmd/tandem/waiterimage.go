package main

import (
	"errors"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/tandem-ci/tandem/pkg/image"
)

// newWaiterImageCmd builds the lean waiter (cmd/tandem-wait) into the init container image and pushes it.
func newWaiterImageCmd() *cobra.Command {
	f := &releaseFlags{}
	var source, imageTag string
	cmd := &cobra.Command{
		Use:   "waiter-image",
		Short: "Build the waiter (cmd/tandem-wait, k8s-wait-for arguments) into a static image on an empty base for the init container, and push it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.image == "" {
				return errors.New("--image: required, e.g. registry.example.com/tandem")
			}
			b, err := image.BuildGo(cmd.Context(), source, "./cmd/tandem-wait", image.WithBinaryName("tandem-wait"), image.WithBestCompression())
			if err != nil {
				return err
			}
			size, err := image.CompressedSize(b.Service)
			if err != nil {
				return err
			}
			kc := image.Keychain(image.Credentials{Username: f.regUser, Password: f.registryPassword()}, nil)
			opts := []image.PublishOption{image.WithKeychain(kc)}
			if f.insecure {
				opts = append(opts, image.WithInsecure())
			}
			res, err := image.Push(cmd.Context(), b.Service, f.image+":"+imageTag, opts...)
			if err != nil {
				return err
			}
			out := struct {
				Ref            string `json:"ref"`
				Digest         string `json:"digest"`
				CompressedSize int64  `json:"compressedSize"`
			}{res.Ref, res.Digest, size}
			return emit(cmd, out, func(w io.Writer) {
				fmt.Fprintf(w, "%s@%s (%.1f MB compressed)\nuse it: tandem init --waiter-image %s --waiter-logs\n", out.Ref, out.Digest, float64(size)/1e6, out.Ref)
			})
		},
	}
	cmd.Flags().StringVar(&f.image, "image", "", "repository for the waiter image")
	cmd.Flags().StringVar(&imageTag, "tag", version(), "tag")
	cmd.Flags().StringVar(&source, "source", ".", "tandem's source folder (the module root)")
	f.bindRegistry(cmd.Flags())
	return cmd
}

// version is tandem's module version, or v0.0.0-dev in a source build.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "v0.0.0-dev"
}
