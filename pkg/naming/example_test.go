package naming_test

import (
	"fmt"

	"github.com/tandem-ci/tandem/pkg/naming"
)

func ExampleRepositories() {
	svc, mig, art := naming.Repositories("registry.gitlab.com/acme/shop", "shop", "", "", "")
	fmt.Println(svc)
	fmt.Println(mig)
	fmt.Println(art)
	// Output:
	// registry.gitlab.com/acme/shop/shop
	// registry.gitlab.com/acme/shop/shop-migration
	// registry.gitlab.com/acme/shop/shop/manifests
}
