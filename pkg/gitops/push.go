package gitops

import (
	"context"
	"fmt"
	"io"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
)

// advertisement is the server's receive-pack session and its refs, read in the
// background (advertise) while the commit is being checked and made: the push then only
// sends. go-git's Remote.Push reads them only when pushing, and walks the history to find
// what to send, which the commit already knows (commitFile's objects).
type advertisement struct {
	done chan struct{}
	sess transport.ReceivePackSession
	refs *packp.AdvRefs
	err  error
}

// advertise opens cfg.URL's receive-pack session and reads its refs in the background.
func advertise(ctx context.Context, cfg Config, auth transport.AuthMethod) *advertisement {
	a := &advertisement{done: make(chan struct{})}
	go func() {
		defer close(a.done)
		ep, err := transport.NewEndpoint(cfg.URL)
		if err != nil {
			a.err = err
			return
		}
		cl, err := client.NewClient(ep)
		if err != nil {
			a.err = err
			return
		}
		if a.sess, a.err = cl.NewReceivePackSession(ep, auth); a.err != nil {
			return
		}
		a.refs, a.err = a.sess.AdvertisedReferencesContext(ctx)
	}()
	return a
}

// close waits for the background read and ends the session.
func (a *advertisement) close() {
	<-a.done
	if a.sess != nil {
		a.sess.Close()
	}
}

// push moves cfg.Branch on the server from old to commit, sending objects (the commit
// and what it added). When the server's branch is no longer old, nothing is sent and the
// error is errRejected: the caller retries on a fresh clone.
func push(ctx context.Context, repo *git.Repository, cfg Config, a *advertisement, old, commit plumbing.Hash, objects []plumbing.Hash) error {
	doing := fmt.Sprintf("pushing %s to %s", cfg.Branch, cfg.URL)
	select {
	case <-a.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if a.err != nil {
		return classify(doing, cfg, a.err)
	}
	refs, err := a.refs.AllReferences()
	if err != nil {
		return classify(doing, cfg, err)
	}
	name := plumbing.NewBranchReferenceName(cfg.Branch)
	if r, ok := refs[name]; !ok || r.Hash() != old {
		now := "deleted"
		if ok {
			now = "at " + r.Hash().String()[:8]
		}
		return fmt.Errorf("%s: %w (cloned at %s, now %s)", doing, errRejected, old.String()[:8], now)
	}
	caps := a.refs.Capabilities
	req := packp.NewReferenceUpdateRequestFromCapabilities(caps)
	if cfg.SkipCIPush && caps.Supports(capability.PushOptions) {
		// As go-git's own push: a server that does not take push options gets none.
		_ = req.Capabilities.Set(capability.PushOptions)
		req.Options = []*packp.Option{{Key: "ci.skip", Value: ""}}
	}
	req.Commands = []*packp.Command{{Name: name, Old: old, New: commit}}
	rd, wr := io.Pipe()
	req.Packfile = rd
	encoded := make(chan error, 1)
	go func() {
		_, err := packfile.NewEncoder(wr, repo.Storer, !caps.Supports(capability.OFSDelta)).Encode(objects, 10)
		encoded <- wr.CloseWithError(err)
	}()
	report, err := a.sess.ReceivePack(ctx, req)
	if err != nil {
		rd.Close()
		<-encoded
		return classify(doing, cfg, err)
	}
	if err := <-encoded; err != nil {
		return fmt.Errorf("%s: packing the commit: %w", doing, err)
	}
	if report != nil {
		if err := report.Error(); err != nil {
			return classify(doing, cfg, err)
		}
	}
	return nil
}
