package preflight

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/tandem-ci/tandem/internal/procgroup"
	"github.com/tandem-ci/tandem/internal/tarx"
	"github.com/tandem-ci/tandem/pkg/image"
)

// ErrNeedsContainer is returned when an image's command is not a static executable for
// this machine: it can only run in a container (the Dagger module's preflight does).
var ErrNeedsContainer = errors.New("needs a container runtime")

// ErrNoImage is returned when the image reference has no image in the registry: the
// sentinel of image.Find, one condition, one error.
var ErrNoImage = image.ErrNotFound

// Program is an image's file system unpacked on this machine, with the image's
// configuration: enough to run a static binary from it without a container runtime.
type Program struct {
	Ref    string
	Root   string // the unpacked file system
	Config v1.Config
}

// Fetch pulls ref for linux/GOARCH and unpacks its file system into dir (regular files,
// folders and symlinks; nothing is written outside dir).
func Fetch(ctx context.Context, ref string, kc authn.Keychain, dir string, opts ...name.Option) (*Program, error) {
	img, cf, err := pull(ctx, ref, kc, opts...)
	if err != nil {
		return nil, err
	}
	if err := unpack(img, ref, dir); err != nil {
		return nil, err
	}
	return &Program{Ref: ref, Root: dir, Config: cf.Config}, nil
}

// pull reads ref's manifest and configuration (the layers are read by unpack).
func pull(ctx context.Context, ref string, kc authn.Keychain, opts ...name.Option) (v1.Image, *v1.ConfigFile, error) {
	r, err := name.ParseReference(ref, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("image %q: %w", ref, err)
	}
	img, err := remote.Image(r, remote.WithContext(ctx), remote.WithAuthFromKeychain(kc),
		remote.WithPlatform(v1.Platform{OS: "linux", Architecture: runtime.GOARCH}))
	if err != nil {
		if image.IsNotFound(err) {
			return nil, nil, fmt.Errorf("%w: %s", ErrNoImage, ref)
		}
		return nil, nil, fmt.Errorf("pulling %s: %w", ref, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, nil, fmt.Errorf("reading the configuration of %s: %w", ref, err)
	}
	return img, cf, nil
}

// unpack writes img's file system into dir.
func unpack(img v1.Image, ref, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	fs := mutate.Extract(img)
	defer fs.Close()
	if err := untar(fs, dir); err != nil {
		return fmt.Errorf("unpacking %s: %w", ref, err)
	}
	return nil
}

// layersKey names img's file system: its layers' digests, in order. A service image and
// the migration image derived from it (same layers, another entrypoint) share it.
func layersKey(img v1.Image) (string, error) {
	m, err := img.Manifest()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, l := range m.Layers {
		b.WriteString(l.Digest.String())
		b.WriteByte(' ')
	}
	return b.String(), nil
}

func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			// mutate.Extract ends the archive before it reports a refused entry
			// ("unsafe tar path"): read on to get that error.
			_, err := io.Copy(io.Discard, r)
			return err
		}
		if err != nil {
			return err
		}
		clean := path.Clean("/" + h.Name)
		target := filepath.Join(dir, filepath.FromSlash(clean))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := tarx.WriteFile(target, tr, os.FileMode(h.Mode)&0o755|0o600); err != nil {
				return err
			}
		case tar.TypeSymlink:
			// An absolute target means the image's root: point it into dir, so the host's
			// folders are never reached through the image (mutate.Extract refuses relative
			// targets that climb out).
			link := h.Linkname
			if path.IsAbs(link) {
				link = filepath.Join(dir, filepath.FromSlash(path.Clean(link)))
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			os.Remove(target)
			if err := os.Symlink(link, target); err != nil {
				return err
			}
		}
	}
}

// Argv is what a Kubernetes container runs from this image (see Argv).
func (p *Program) Argv(command, args []string) []string {
	return Argv(p.Config.Entrypoint, p.Config.Cmd, command, args)
}

// Argv is what a Kubernetes container runs from an image with entrypoint and cmd: the
// container's command replaces the entrypoint (and drops cmd), its args replace cmd.
func Argv(entrypoint, cmd, command, args []string) []string {
	argv := command
	if len(argv) == 0 {
		argv = entrypoint
		if len(args) == 0 {
			args = cmd
		}
	}
	return append(append([]string(nil), argv...), args...)
}

// resolve returns the host path of the image's executable name (absolute in the image, or
// looked up in the image's PATH). Links resolve inside Root (see untar).
func (p *Program) resolve(exe string) (string, error) {
	candidates := []string{exe}
	if !strings.HasPrefix(exe, "/") {
		candidates = nil
		for _, d := range strings.Split(p.env("PATH", "/usr/local/bin:/usr/bin:/bin"), ":") {
			candidates = append(candidates, path.Join(d, exe))
		}
	}
	root, err := filepath.EvalSymlinks(p.Root)
	if err != nil {
		return "", err
	}
	for _, c := range candidates {
		host, err := filepath.EvalSymlinks(filepath.Join(root, filepath.FromSlash(path.Clean("/"+c))))
		if err != nil || !strings.HasPrefix(host, root+string(filepath.Separator)) {
			continue
		}
		if fi, err := os.Stat(host); err == nil && fi.Mode().IsRegular() {
			return host, nil
		}
	}
	return "", fmt.Errorf("%w: %s has no executable %s", ErrNeedsContainer, p.Ref, exe)
}

func (p *Program) env(key, def string) string {
	for _, e := range p.Config.Env {
		if k, v, ok := strings.Cut(e, "="); ok && k == key {
			return v
		}
	}
	return def
}

// elfMachine is the ELF machine of GOARCH.
var elfMachine = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "386": elf.EM_386, "arm": elf.EM_ARM, "riscv64": elf.EM_RISCV, "ppc64le": elf.EM_PPC64, "s390x": elf.EM_S390}

// checkStatic says whether the file at host is an ELF executable for this machine with
// no dynamic loader: it then runs the same outside its image.
func checkStatic(host, ref, exe string) error {
	f, err := elf.Open(host)
	if err != nil {
		return fmt.Errorf("%w: %s's %s is not an ELF executable (a script or another format)", ErrNeedsContainer, ref, exe)
	}
	defer f.Close()
	if m, ok := elfMachine[runtime.GOARCH]; !ok || f.Machine != m {
		return fmt.Errorf("%w: %s's %s is built for %s, this machine is %s", ErrNeedsContainer, ref, exe, f.Machine, runtime.GOARCH)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%w: %s's %s is dynamically linked (it needs the image's libraries)", ErrNeedsContainer, ref, exe)
		}
	}
	return nil
}

// Command prepares argv (as Argv returns it) to run on this machine: the executable
// from the unpacked image, the image's environment plus env, in the image's working
// folder inside Root. The executable must be static (ErrNeedsContainer otherwise).
func (p *Program) Command(ctx context.Context, argv []string, env []string) (*exec.Cmd, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("%w: %s has no command: give the container a command or the image an entrypoint", ErrNeedsContainer, p.Ref)
	}
	host, err := p.resolve(argv[0])
	if err != nil {
		return nil, err
	}
	if err := checkStatic(host, p.Ref, argv[0]); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, host, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Dir = filepath.Join(p.Root, filepath.FromSlash(path.Clean("/"+p.Config.WorkingDir)))
	cmd.Env = append(append(append([]string(nil), p.Config.Env...), "HOME="+p.Root), env...)
	procgroup.Bind(cmd)
	return cmd, nil
}

// output is a bounded buffer for a program's output: the first 64 KiB are kept.
type output struct{ bytes.Buffer }

const maxOutput = 64 << 10

func (o *output) Write(b []byte) (int, error) {
	if o.Len() < maxOutput {
		o.Buffer.Write(b)
	}
	return len(b), nil
}
