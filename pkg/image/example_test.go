package image_test

import (
	"fmt"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/tandem-ci/tandem/pkg/image"
)

func ExampleMigrationOf() {
	cfg, _ := empty.Image.ConfigFile()
	cfg.Config.Entrypoint = []string{"/app/server"}
	service, _ := mutate.ConfigFile(empty.Image, cfg)
	migration, _ := image.MigrationOf(service, []string{"/app/server", "migrate", "up"})
	mc, _ := migration.ConfigFile()
	fmt.Println(mc.Config.Entrypoint)
	// Output: [/app/server migrate up]
}
