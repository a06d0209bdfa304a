package image

import (
	"os"

	"github.com/google/go-containerregistry/pkg/authn"
)

// Credentials are explicit registry credentials; empty fields mean "not given".
type Credentials struct {
	Registry string // host[:port]; empty matches every registry
	Username string
	Password string
}

// Keychain resolves registry credentials in the order tandem documents: explicit
// credentials, then GitLab's CI_REGISTRY/CI_REGISTRY_USER/CI_REGISTRY_PASSWORD for
// CI_REGISTRY, then the Docker config (~/.docker/config.json, credential helpers).
func Keychain(explicit Credentials, getenv func(string) string) authn.Keychain {
	if getenv == nil {
		getenv = os.Getenv
	}
	chains := []authn.Keychain{}
	if explicit.Username != "" || explicit.Password != "" {
		chains = append(chains, staticKeychain(explicit))
	}
	if u, p := getenv("CI_REGISTRY_USER"), getenv("CI_REGISTRY_PASSWORD"); getenv("CI_REGISTRY") != "" && u != "" {
		chains = append(chains, staticKeychain(Credentials{Registry: getenv("CI_REGISTRY"), Username: u, Password: p}))
	}
	chains = append(chains, authn.DefaultKeychain)
	return authn.NewMultiKeychain(chains...)
}

type staticKeychain Credentials

// Resolve implements authn.Keychain. Non-matching registries get Anonymous, which
// NewMultiKeychain treats as "ask the next keychain".
func (s staticKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if s.Registry != "" && s.Registry != r.RegistryStr() {
		return authn.Anonymous, nil
	}
	return authn.FromConfig(authn.AuthConfig{Username: s.Username, Password: s.Password}), nil
}
