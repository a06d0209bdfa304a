// Package variables rewrites IMAGE_TAG in the deployment-variables ConfigMap, the one
// file CI changes on every release. It finds the value through the YAML tree and replaces
// only that scalar's bytes, so comments, order, quoting and every other byte survive.
package variables
