package testnet

import (
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Fault is what the proxy does to one request.
type Fault int

// Faults the proxy injects.
const (
	Pass      Fault = iota
	Status503       // answer 503 Service Unavailable without forwarding
	Reset           // close the connection without an answer
	Stall           // hold the request until the client gives up (or StallFor passes)
	DropBody        // forward, then cut the response off after its headers (a mid-transfer drop)
)

func (f Fault) String() string {
	return [...]string{"pass", "503", "reset", "stall", "drop"}[f]
}

// FaultProxy is a reverse proxy in front of a real server that injects faults into a
// fraction of the requests, chosen by a seeded random source (reproducible runs).
type FaultProxy struct {
	*httptest.Server
	Host string // host:port of the proxy
	// Counts of each fault injected so far, indexed by Fault.
	Counts [5]atomic.Int64

	mu       sync.Mutex
	rng      *rand.Rand
	fraction float64
	faults   []Fault
	stallFor time.Duration
}

// NewFaultProxy proxies to target (http://host:port). fraction of the requests get one
// of faults, uniformly; a stall lasts until the client cancels or stallFor passes.
func NewFaultProxy(t testing.TB, target string, seed uint64, fraction float64, stallFor time.Duration, faults ...Fault) *FaultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &FaultProxy{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), fraction: fraction, faults: faults, stallFor: stallFor}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = nil
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := p.next()
		p.Counts[f].Add(1)
		switch f {
		case Status503:
			io.Copy(io.Discard, r.Body)
			http.Error(w, "injected fault", http.StatusServiceUnavailable)
		case Reset:
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		case Stall:
			select {
			case <-r.Context().Done():
			case <-time.After(p.stallFor):
			}
			panic(http.ErrAbortHandler)
		case DropBody:
			rp.ServeHTTP(&dropWriter{ResponseWriter: w}, r)
		default:
			rp.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(p.Close)
	p.Host = p.Listener.Addr().String()
	return p
}

// SetFraction changes the share of faulty requests (e.g. 0 to let a final check through).
func (p *FaultProxy) SetFraction(f float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fraction = f
}

func (p *FaultProxy) next() Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.faults) == 0 || p.rng.Float64() >= p.fraction {
		return Pass
	}
	return p.faults[p.rng.IntN(len(p.faults))]
}

// Injected is the number of faulty requests so far.
func (p *FaultProxy) Injected() int64 {
	var n int64
	for f := Status503; f <= DropBody; f++ {
		n += p.Counts[f].Load()
	}
	return n
}

// dropWriter passes the headers, then aborts the response before its body.
type dropWriter struct {
	http.ResponseWriter
	wrote bool
}

func (d *dropWriter) Write(b []byte) (int, error) {
	if !d.wrote {
		d.wrote = true
		if f, ok := d.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
	}
	panic(http.ErrAbortHandler)
}
