package preflight

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/tandem-ci/tandem/internal/procgroup"
)

// ErrServiceExited is returned by Serve when the service ended before it listened.
var ErrServiceExited = errors.New("service exited")

// Runner runs the pre-flight's programs. Run decides what runs when and judges the
// outcome; a Runner only knows how to run: Local on this machine, the Dagger module in
// containers.
type Runner interface {
	// Database starts an empty scratch PostgreSQL and returns its URL as the programs
	// reach it, where it runs (for the report) and how to stop it.
	Database(ctx context.Context) (url, where string, stop func(), err error)
	// Run runs c to its end with env (KEY=VALUE) and returns its output; ErrNoImage when
	// c.Image does not exist, ErrNeedsContainer when this runner cannot run it.
	Run(ctx context.Context, c Container, env []string) (string, error)
	// Schema returns the schema of the database at url, normalised (see DumpSchema).
	Schema(ctx context.Context, url string) (string, error)
	// Serve starts c with env and PORT set, and returns once it listens on PORT;
	// ErrServiceExited when it ended first (the Service then holds its log).
	Serve(ctx context.Context, c Container, env []string) (Service, error)
}

// Service is a running service.
type Service interface {
	// Get requests path (or an absolute URL) and returns the status and the start of
	// the body.
	Get(ctx context.Context, path string) (int, string, error)
	// Exec runs a shell command with SERVICE_URL and PORT of the service and env set.
	Exec(ctx context.Context, command string, env ...string) (string, error)
	// Log is what the service printed so far.
	Log() string
	// Stop ends the service.
	Stop()
}

// Local runs programs on this machine: PostgreSQL from the system's binaries, images'
// static executables unpacked from the registry (ErrNeedsContainer for anything else).
type Local struct {
	keychain     authn.Keychain
	nameOpts     []name.Option
	startTimeout time.Duration
	work         string

	// fetches run in the background of ctx (Prefetch) and Close waits for them.
	ctx      context.Context
	cancel   context.CancelFunc
	fetching sync.WaitGroup
	mu       sync.Mutex
	programs map[string]*fetch
	roots    map[string]*fetch // unpacked file systems by layersKey (p.Root set)
	local    map[string]string // the started server's URL → its Unix socket URL
}

// fetch is one image's pull and unpack; done is closed when p or err is set.
type fetch struct {
	done chan struct{}
	p    *Program
	err  error
}

// Prefetcher is a Runner that can start pulling images before they are needed; Run
// calls it before starting the database, so the pulls overlap PostgreSQL's start.
type Prefetcher interface {
	Prefetch(refs ...string)
}

var _ Runner = (*Local)(nil)

// NewLocal returns a local runner; Close removes what it unpacked. A nil keychain is the
// default one (Docker config); startTimeout bounds how long Serve waits (default 30s).
func NewLocal(kc authn.Keychain, startTimeout time.Duration, opts ...name.Option) (*Local, error) {
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	if startTimeout <= 0 {
		startTimeout = 30 * time.Second
	}
	work, err := os.MkdirTemp("", "tandem-preflight-")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Local{keychain: kc, nameOpts: opts, startTimeout: startTimeout, work: work, ctx: ctx, cancel: cancel, programs: map[string]*fetch{}, roots: map[string]*fetch{}}, nil
}

// Close stops the pulls still running and removes the unpacked images.
func (l *Local) Close() error {
	l.cancel()
	l.fetching.Wait()
	return os.RemoveAll(l.work)
}

// Prefetch starts pulling and unpacking refs (empty ones skipped) in the background; a
// failure is returned by the Run or Serve that needs the image.
func (l *Local) Prefetch(refs ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ref := range refs {
		if ref != "" {
			l.start(ref)
		}
	}
}

// start begins ref's fetch unless it has begun; l.mu is held.
func (l *Local) start(ref string) *fetch {
	if f, ok := l.programs[ref]; ok {
		return f
	}
	f := &fetch{done: make(chan struct{})}
	dir := filepath.Join(l.work, "image-"+strconv.Itoa(len(l.programs)+1))
	l.programs[ref] = f
	l.fetching.Add(1)
	go func() {
		defer l.fetching.Done()
		defer close(f.done)
		f.p, f.err = l.fetch(ref, dir)
	}()
	return f
}

// fetch pulls ref and unpacks its file system into dir, unless an image with the same
// layers is (being) unpacked: then dir is made of hard links to that one's files (no
// second decompression; a file a program creates stays its own, as in a pod).
func (l *Local) fetch(ref, dir string) (*Program, error) {
	img, cf, err := pull(l.ctx, ref, l.keychain, l.nameOpts...)
	if err != nil {
		return nil, err
	}
	key, err := layersKey(img)
	if err != nil {
		return nil, fmt.Errorf("pulling %s: %w", ref, err)
	}
	l.mu.Lock()
	r, shared := l.roots[key]
	if !shared {
		r = &fetch{done: make(chan struct{})}
		l.roots[key] = r
	}
	l.mu.Unlock()
	if !shared {
		r.err = unpack(img, ref, dir)
		r.p = &Program{Root: dir}
		close(r.done)
	}
	<-r.done
	if r.err != nil {
		return nil, r.err
	}
	if shared {
		if err := linkTree(r.p.Root, dir); err != nil {
			return nil, fmt.Errorf("unpacking %s: %w", ref, err)
		}
	}
	return &Program{Ref: ref, Root: dir, Config: cf.Config}, nil
}

// linkTree makes dst a copy of the unpacked file system src: folders made, files hard
// linked, links re-pointed from src into dst (untar points absolute ones into its root).
func linkTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if r, err := filepath.Rel(src, link); err == nil && filepath.IsAbs(link) && filepath.IsLocal(r) {
				link = filepath.Join(dst, r)
			}
			return os.Symlink(link, target)
		default:
			return os.Link(p, target)
		}
	})
}

// Database starts a throwaway PostgreSQL (StartPostgres).
func (l *Local) Database(ctx context.Context) (string, string, func(), error) {
	pg, err := StartPostgres(ctx)
	if err != nil {
		return "", "", nil, err
	}
	host := strings.TrimPrefix(strings.Split(pg.URL, "/")[2], "postgres@")
	l.mu.Lock()
	l.local = map[string]string{pg.URL: pg.SocketURL()}
	l.mu.Unlock()
	return pg.URL, "on " + host, pg.Stop, nil
}

// Schema dumps with pg_dump (DumpSchema); through the Unix socket when url is the
// server Database started (no TCP set-up: ~15 ms less per dump).
func (l *Local) Schema(ctx context.Context, url string) (string, error) {
	l.mu.Lock()
	if u, ok := l.local[url]; ok {
		url = u
	}
	l.mu.Unlock()
	return DumpSchema(ctx, url)
}

// program pulls and unpacks an image once, or waits for its Prefetch.
func (l *Local) program(ctx context.Context, ref string) (*Program, error) {
	l.mu.Lock()
	f := l.start(ref)
	l.mu.Unlock()
	select {
	case <-f.done:
		return f.p, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *Local) command(ctx context.Context, c Container, env []string) (*exec.Cmd, error) {
	p, err := l.program(ctx, c.Image)
	if err != nil {
		return nil, err
	}
	return p.Command(ctx, p.Argv(c.Command, c.Args), env)
}

// Run runs the image's static executable to its end.
func (l *Local) Run(ctx context.Context, c Container, env []string) (string, error) {
	cmd, err := l.command(ctx, c, env)
	if err != nil {
		return "", err
	}
	var out output
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return out.String(), err
}

// Serve starts the image's static executable with PORT set to a free port.
func (l *Local) Serve(ctx context.Context, c Container, env []string) (Service, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	cmd, err := l.command(sctx, c, append(env, "PORT="+port))
	if err != nil {
		cancel()
		return nil, err
	}
	s := &localService{addr: "127.0.0.1:" + port, port: port, cancel: cancel, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &s.out, &s.out
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("starting %s: %w", c.Image, err)
	}
	go func() { s.err = cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(l.startTimeout)
	for {
		if conn, err := net.DialTimeout("tcp", s.addr, time.Second); err == nil {
			conn.Close()
			return s, nil
		}
		select {
		case <-s.exited:
			return s, fmt.Errorf("%w before it listened on %s: %v", ErrServiceExited, s.addr, s.err)
		case <-ctx.Done():
			s.Stop()
			return s, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return s, fmt.Errorf("%s did not listen on %s within %s (tandem sets PORT=%s; does the service read it?)", c.Image, s.addr, l.startTimeout, port)
		}
	}
}

type localService struct {
	addr, port string
	cancel     func()
	out        syncOutput
	exited     chan struct{}
	err        error
}

func (s *localService) Get(ctx context.Context, path string) (int, string, error) {
	u := path
	if strings.HasPrefix(u, "/") {
		u = "http://" + s.addr + path
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
	return resp.StatusCode, strings.TrimSpace(string(b)), nil
}

func (s *localService) Exec(ctx context.Context, command string, env ...string) (string, error) {
	sh := exec.CommandContext(ctx, "sh", "-c", command)
	sh.Env = append(append(os.Environ(), "SERVICE_URL=http://"+s.addr, "PORT="+s.port), env...)
	procgroup.Bind(sh) // the check's own children end with it (sleep 600 would outlive sh)
	b, err := sh.CombinedOutput()
	return string(b), err
}

func (s *localService) Log() string { return s.out.String() }

func (s *localService) Stop() {
	s.cancel()
	<-s.exited
}

// syncOutput is output safe for a running process and a reader.
type syncOutput struct {
	mu sync.Mutex
	b  output
}

func (o *syncOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *syncOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// CurlCheck is the command a container runner runs to GET url with curl: one process
// whose standard output is the status code on the first line, then the start of the
// body (ParseCurlCheck reads it). One exec, so the status is not lost to a second one.
func CurlCheck(url string) []string {
	return []string{"sh", "-c", `curl -sS --max-time 5 -o /tmp/tandem-body -w '%{http_code}\n' "$1" && head -c 2048 /tmp/tandem-body`, "curl-check", url}
}

// ParseCurlCheck reads CurlCheck's output: the status and the start of the body.
func ParseCurlCheck(out string) (int, string, error) {
	code, body, _ := strings.Cut(out, "\n")
	status, err := strconv.Atoi(strings.TrimSpace(code))
	if err != nil {
		return 0, "", fmt.Errorf("curl printed %q, not a status code", strings.TrimSpace(code))
	}
	return status, strings.TrimSpace(body), nil
}
