// Package progress records the steps of a run as they end (a release's steps, a
// pre-flight's phases, the demo's steps) and reports each one to whoever prints it:
// one recorder for every run tandem shows step by step.
package progress
