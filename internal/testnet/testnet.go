// Package testnet provides network faults for tests: a server that accepts connections
// and never answers, and a bound on how long a call may take before it counts as a hang.
package testnet

import (
	"net"
	"sync"
	"testing"
	"time"
)

// Silent listens on loopback, accepts every connection and never answers (a black-holing
// load balancer, a stuck server). It returns host:port; everything closes at cleanup.
func Silent(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// Within runs fn and fails the test when it has not returned after limit: a hang, not a
// slow run (limits are generous; figures belong in benchmarks).
func Within(t testing.TB, limit time.Duration, fn func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		t.Fatalf("still running after %s: hangs", limit)
		return nil
	}
}
