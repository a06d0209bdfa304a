// Package lint checks a kustomization folder for the migration pattern's known mistakes:
// it builds the folder the way Flux does, then inspects the built objects and the source
// files, and reports each finding with a rule ID, severity, file, line and fix.
package lint
