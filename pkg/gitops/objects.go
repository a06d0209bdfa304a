package gitops

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// writeFolders writes the files of commit's tree under dirs (every file when dirs is nil)
// into root, as git's checkout would: modes kept, symbolic links as links. A dir that
// is not in the tree is left out; one that is a file or a link is written as such.
// Nothing else is read: the cost is the folders', not the repository's.
func writeFolders(commit *object.Commit, dirs []string, root string) error {
	tree, err := commit.Tree()
	if err != nil {
		return err
	}
	if dirs == nil {
		return writeTree(tree, "", root)
	}
	dirs = slices.Clone(dirs)
	slices.Sort(dirs)
	for i, d := range dirs {
		if i > 0 && (d == dirs[i-1] || strings.HasPrefix(d, dirs[i-1]+"/")) {
			dirs[i] = dirs[i-1] // written with the folder holding it
			continue
		}
		e, err := tree.FindEntry(d)
		if err != nil {
			continue // not in the branch: whoever reads it says what is missing
		}
		if e.Mode != filemode.Dir {
			f, err := tree.TreeEntryFile(e)
			if err != nil {
				return fmt.Errorf("reading %s: %w", d, err)
			}
			if err := writeFile(root, d, f); err != nil {
				return err
			}
			continue
		}
		sub, err := tree.Tree(d)
		if err != nil {
			return fmt.Errorf("reading %s: %w", d, err)
		}
		if err := writeTree(sub, d, root); err != nil {
			return err
		}
	}
	return nil
}

func writeTree(t *object.Tree, prefix, root string) error {
	return t.Files().ForEach(func(f *object.File) error {
		return writeFile(root, path.Join(prefix, f.Name), f)
	})
}

// writeFile writes f at rel under root. An absolute link is made relative to root, as
// go-git's own checkout confines links; a path that would leave root or enter .git is
// refused.
func writeFile(root, rel string, f *object.File) error {
	if !filepath.IsLocal(filepath.FromSlash(rel)) || isDotGit(rel) {
		return fmt.Errorf("tree path %q: leaves the clone", rel)
	}
	dst := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	r, err := f.Reader()
	if err != nil {
		return fmt.Errorf("reading %s: %w", rel, err)
	}
	defer r.Close()
	if f.Mode == filemode.Symlink {
		b, err := io.ReadAll(r)
		if err != nil {
			return fmt.Errorf("reading %s: %w", rel, err)
		}
		target := string(b)
		if filepath.IsAbs(target) {
			if target, err = filepath.Rel(filepath.Dir(dst), filepath.Join(root, target)); err != nil {
				return err
			}
		}
		return os.Symlink(target, dst)
	}
	perm := os.FileMode(0o644)
	if f.Mode == filemode.Executable {
		perm = 0o755
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return fmt.Errorf("writing %s: %w", rel, err)
	}
	return out.Close()
}

func isDotGit(rel string) bool {
	for _, p := range strings.Split(rel, "/") {
		if strings.EqualFold(p, ".git") {
			return true
		}
	}
	return false
}

// commitFile commits the file at file (inside root, as written by writeFolders and then
// edited; a link is followed to the file it names) on top of parent, from objects: a new
// blob, the trees on its path, and the commit, which it returns with those objects (what
// a push sends). It does not read the rest of the tree, so a repository of thousands of
// files costs what one of ten does. The branch is not moved.
func commitFile(repo *git.Repository, parent *object.Commit, root, file, msg string, sig object.Signature) (plumbing.Hash, []plumbing.Hash, error) {
	target, err := filepath.EvalSymlinks(file)
	if err != nil {
		return plumbing.ZeroHash, nil, err
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return plumbing.ZeroHash, nil, err
	}
	rel, err := filepath.Rel(realRoot, target)
	if err != nil || !filepath.IsLocal(rel) {
		return plumbing.ZeroHash, nil, fmt.Errorf("%s: %w", file, ErrOutsideRepository)
	}
	content, err := os.ReadFile(target)
	if err != nil {
		return plumbing.ZeroHash, nil, err
	}
	blob, err := storeBlob(repo, content)
	if err != nil {
		return plumbing.ZeroHash, nil, err
	}
	added := []plumbing.Hash{blob}
	tree, err := parent.Tree()
	if err != nil {
		return plumbing.ZeroHash, nil, err
	}
	newTree, err := replaceEntry(repo, tree, strings.Split(filepath.ToSlash(rel), "/"), blob, &added)
	if err != nil {
		return plumbing.ZeroHash, nil, fmt.Errorf("%s: %w", filepath.ToSlash(rel), err)
	}
	c := &object.Commit{Author: sig, Committer: sig, Message: msg, TreeHash: newTree, ParentHashes: []plumbing.Hash{parent.Hash}}
	h, err := storeObject(repo, c)
	return h, append(added, h), err
}

// errNotInTree is returned when the edited file is not a file of the parent's tree.
var errNotInTree = errors.New("not a file of the branch")

// replaceEntry stores a copy of t whose entry at parts is blob (and the copies of the
// trees between, each added to added) and returns the new tree's hash.
func replaceEntry(repo *git.Repository, t *object.Tree, parts []string, blob plumbing.Hash, added *[]plumbing.Hash) (plumbing.Hash, error) {
	entries := append([]object.TreeEntry(nil), t.Entries...)
	i := 0
	for ; i < len(entries) && entries[i].Name != parts[0]; i++ {
	}
	if i == len(entries) {
		return plumbing.ZeroHash, errNotInTree
	}
	switch e := &entries[i]; {
	case len(parts) == 1 && (e.Mode == filemode.Regular || e.Mode == filemode.Executable || e.Mode == filemode.Deprecated):
		e.Hash = blob
	case len(parts) > 1 && e.Mode == filemode.Dir:
		sub, err := repo.TreeObject(e.Hash)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if e.Hash, err = replaceEntry(repo, sub, parts[1:], blob, added); err != nil {
			return plumbing.ZeroHash, err
		}
	default:
		return plumbing.ZeroHash, errNotInTree
	}
	h, err := storeObject(repo, &object.Tree{Entries: entries})
	*added = append(*added, h)
	return h, err
}

// storeObject encodes o (a tree or a commit) into repo.
func storeObject(repo *git.Repository, o interface {
	Encode(plumbing.EncodedObject) error
}) (plumbing.Hash, error) {
	obj := repo.Storer.NewEncodedObject()
	if err := o.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return repo.Storer.SetEncodedObject(obj)
}

// storeBlob writes content into repo as a blob.
func storeBlob(repo *git.Repository, content []byte) (plumbing.Hash, error) {
	obj := repo.Storer.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	w, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := w.Write(content); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	return repo.Storer.SetEncodedObject(obj)
}
