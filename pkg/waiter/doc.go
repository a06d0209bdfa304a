// Package waiter is the init container's side of the pattern: it watches the migration
// Job and returns when it completes, or at once when it fails (with the Job's reason and
// the failed pod's log tail), so pods never wait forever for a migration that failed.
// It depends on client-go only, so the waiter binary (cmd/tandem-wait) stays small.
package waiter
