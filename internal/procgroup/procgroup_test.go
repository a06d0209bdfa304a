package procgroup_test

import (
	"context"
	"errors"
	"os/exec"
	"testing"
	"time"

	"github.com/tandem-ci/tandem/internal/procgroup"
)

// TestBindEndsChildren: a shell whose child holds the output pipe ends with its context
// (without the group kill, CombinedOutput waits for sleep 600).
func TestBindEndsChildren(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", "sleep 600; echo never")
	procgroup.Bind(cmd)
	start := time.Now()
	done := make(chan error, 1)
	go func() { _, err := cmd.CombinedOutput(); done <- err }()
	select {
	case err := <-done:
		if err == nil || !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Errorf("err %v, ctx %v", err, ctx.Err())
		}
		t.Logf("ended %s after start", time.Since(start).Round(time.Millisecond))
	case <-time.After(20 * time.Second):
		t.Fatal("the shell's child kept the command running after its deadline")
	}
}
