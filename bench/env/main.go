// Command env starts the loopback servers the benchmarks use, the same ones the tests
// use: go-containerregistry's registry and git http-backend holding a repository whose
// main branch has k8s/ for app shop. It prints shell assignments, then serves until
// SIGTERM/SIGINT.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path"
	"syscall"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/tandem-ci/tandem/internal/gitserver"
	"github.com/tandem-ci/tandem/pkg/manifest"
)

func main() {
	root := flag.String("root", "", "folder for the git server's repositories (required)")
	flag.Parse()
	if *root == "" {
		log.Fatal("env: -root is required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go http.Serve(l, registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	reg := l.Addr().String()
	git, err := gitserver.Start(*root, "bench", "bench-token")
	if err != nil {
		log.Fatal(err)
	}
	defer git.Close()
	files, err := manifest.Files(manifest.Spec{App: "shop", Image: reg + "/shop", MigrationCommand: []string{"/app/shop", "migrate"}, Tag: "v1.0.0"})
	if err != nil {
		log.Fatal(err)
	}
	seed := map[string]string{}
	for n, b := range files {
		seed[path.Join("k8s", n)] = string(b)
	}
	url, err := git.CreateRepo("shop", "", seed)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("REGISTRY=%s\nGIT_URL=%s\nGIT_USER=bench\nGIT_TOKEN=bench-token\n", reg, url)
	os.Stdout.Sync()
	<-ctx.Done()
}
