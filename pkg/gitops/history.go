package gitops

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/tandem-ci/tandem/pkg/variables"
)

// DefaultHistoryDepth is how many commits of the branch History reads by default.
const DefaultHistoryDepth = 200

// Release is one release on the branch: a value IMAGE_TAG took, and the commit that set
// it (the oldest of the consecutive commits holding it).
type Release struct {
	Tag     string    `json:"tag"`
	Commit  string    `json:"commit"`
	Author  string    `json:"author"`
	Time    time.Time `json:"time"`
	Subject string    `json:"subject"`
}

// HistoryResult is the branch's releases, newest (the live one) first.
type HistoryResult struct {
	URL      string    `json:"url"` // without credentials
	Branch   string    `json:"branch"`
	Head     string    `json:"head"`
	Releases []Release `json:"releases"`
	// Commits is how many commits were read; Truncated: the branch has older ones, so the
	// oldest release listed may have been set earlier than its Commit says.
	Commits   int  `json:"commits"`
	Truncated bool `json:"truncated,omitempty"`
	// Dir is the clone, checked out at the head (cfg.File's folder and cfg.Folders), when
	// cfg.Dir was given; else it was removed.
	Dir string `json:"dir,omitempty"`
}

// ErrNoHistory is returned when the branch's variables file holds no IMAGE_TAG.
var ErrNoHistory = errors.New("no release in the branch's history")

// History reads the releases of cfg.Branch from its last depth commits (default
// DefaultHistoryDepth), following first parents: each value cfg.File's IMAGE_TAG took,
// newest first. The clone goes to cfg.Dir and stays there (checked out at the head, as
// Bump's) when it is given; else to a temporary folder that is removed. cfg.Tag is not used.
func History(ctx context.Context, cfg Config, depth int) (HistoryResult, error) {
	cfg, auth, err := normalize(cfg)
	res := HistoryResult{URL: cfg.URL, Branch: cfg.Branch}
	if err != nil {
		return res, err
	}
	if depth <= 0 {
		depth = DefaultHistoryDepth
	}
	keep := cfg.Dir != ""
	if !keep {
		if cfg.Dir, err = os.MkdirTemp("", "tandem-gitops-history-"); err != nil {
			return res, err
		}
		defer os.RemoveAll(cfg.Dir)
	} else if entries, err := os.ReadDir(cfg.Dir); err == nil && len(entries) > 0 {
		return res, fmt.Errorf("cloning into %s: folder is not empty; pass an empty or new folder", cfg.Dir)
	}
	_, head, err := clone(ctx, cfg, auth, depth)
	if err != nil {
		return res, err
	}
	if keep {
		res.Dir = cfg.Dir
	}
	res.Head = head.Hash.String()
	file := strings.TrimPrefix(cfgPath(cfg.File), "./")
	c := head
	for err == nil && res.Commits < depth {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		res.Commits++
		value, ferr := tagAt(c, file)
		if ferr != nil {
			if res.Commits == 1 {
				return res, fmt.Errorf("branch %s of %s: %w", cfg.Branch, cfg.URL, ferr)
			}
			break // before the file held IMAGE_TAG: the releases start after it
		}
		r := Release{Tag: value, Commit: c.Hash.String(), Author: c.Author.Name, Time: c.Author.When, Subject: subject(c.Message)}
		if n := len(res.Releases); n > 0 && res.Releases[n-1].Tag == value {
			res.Releases[n-1] = r // set earlier than this commit
		} else {
			res.Releases = append(res.Releases, r)
		}
		if c.NumParents() == 0 {
			return res, nil
		}
		c, err = c.Parent(0)
	}
	if errors.Is(err, plumbing.ErrObjectNotFound) || res.Commits >= depth {
		res.Truncated = true // the shallow clone's edge
	} else if err != nil {
		return res, fmt.Errorf("reading the history of %s: %w", cfg.Branch, err)
	}
	if len(res.Releases) == 0 {
		return res, fmt.Errorf("branch %s of %s: %s: %w", cfg.Branch, cfg.URL, cfg.File, ErrNoHistory)
	}
	return res, nil
}

// tagAt is IMAGE_TAG of file at commit c.
func tagAt(c *object.Commit, file string) (string, error) {
	f, err := c.File(file)
	if err != nil {
		return "", fmt.Errorf("%s at %s: %w", file, c.Hash.String()[:8], err)
	}
	data, err := f.Contents()
	if err != nil {
		return "", fmt.Errorf("reading %s at %s: %w", file, c.Hash.String()[:8], err)
	}
	v, err := variables.Find([]byte(data))
	if err != nil {
		return "", fmt.Errorf("%s at %s: %w", file, c.Hash.String()[:8], err)
	}
	return v, nil
}

func subject(msg string) string {
	s, _, _ := strings.Cut(strings.TrimSpace(msg), "\n")
	return s
}

// cfgPath is the repository path of a (cleaned, relative) file name.
func cfgPath(f string) string { return strings.ReplaceAll(f, "\\", "/") }
