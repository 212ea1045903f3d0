package core

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/sipua"
)

// Crash safety of the calls (BC-30). While a call is connected, a
// checkpoint of it (sipua's call buffer) is kept in a file of its own under
// Options.StateDir/calls, rewritten on every change of the call (answer,
// hold and resume, transfer, re-INVITE, a re-launch) and with each media
// quality report, which keeps its RTP position fresh; the file goes when
// the call ends. If the desktop dies with calls up, the next start finds
// the files: State.SavedCalls offers them, RestoreSavedCalls continues
// them in the new SIP endpoint, DiscardSavedCalls forgets them.

// SavedCall is a call that an earlier run of the desktop left connected
// when it ended without hanging up (a crash, a kill), as found at start.
type SavedCall struct {
	ID        string
	Site      int // 1 or 2; 0 when the buffer names another account
	Direction sipua.CallDirection
	Peer      string // the peer's address
	PeerName  string
	Since     time.Time // when the call was answered
	SavedAt   time.Time // the last checkpoint
}

// ErrNoSavedCalls: there is no saved call to restore or discard.
var ErrNoSavedCalls = errors.New("no saved calls")

const (
	callsDir      = "calls"
	callExt       = ".call"
	maxCallBuffer = 2 << 20 // a call buffer is a few KiB; sipua refuses more than 1 MiB of payload
)

// saver writes the checkpoints of the calls and the call history in the
// background, one at a time, so that the endpoint's events never wait for
// a disk. For each call only the latest request counts.
type saver struct {
	dir  string // Options.StateDir; "" keeps nothing
	log  *slog.Logger
	call func(id string) (*sipua.Call, bool)

	mu       sync.Mutex
	idle     *sync.Cond
	ops      map[string]bool  // call id → true: checkpoint, false: remove
	history  []sipua.CallInfo // the history to write; nil when written
	running  bool
	written  map[string]bool // the call files of this run
	disabled bool            // after shutdown: nothing more is written
}

func newSaver(dir string, log *slog.Logger, call func(string) (*sipua.Call, bool)) *saver {
	s := &saver{dir: dir, log: log, call: call, ops: map[string]bool{}, written: map[string]bool{}}
	s.idle = sync.NewCond(&s.mu)
	return s
}

// callFile is the checkpoint file of a call: named by a hash of its id,
// which comes from the network and may hold any character.
func (s *saver) callFile(id string) string {
	sum := sha256.Sum256([]byte(id))
	return filepath.Join(s.dir, callsDir, hex.EncodeToString(sum[:16])+callExt)
}

// checkpoint asks for the call's file to be (re)written.
func (s *saver) checkpoint(id string) { s.queue(func() { s.ops[id] = true }) }

// remove asks for the call's file to go.
func (s *saver) remove(id string) { s.queue(func() { s.ops[id] = false }) }

// saveHistory asks for the history file to be rewritten with h.
func (s *saver) saveHistory(h []sipua.CallInfo) {
	h = slices.Clone(h)
	if h == nil {
		h = []sipua.CallInfo{}
	}
	s.queue(func() { s.history = h })
}

func (s *saver) queue(set func()) {
	if s.dir == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.disabled {
		return
	}
	set()
	if !s.running {
		s.running = true
		go s.drain()
	}
}

// drain does what is asked until nothing is left.
func (s *saver) drain() {
	for {
		s.mu.Lock()
		var id string
		var save, found bool
		for id, save = range s.ops {
			found = true
			break
		}
		hist := s.history
		switch {
		case found:
			delete(s.ops, id)
		case hist != nil:
			s.history = nil
		default:
			s.running = false
			s.idle.Broadcast()
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		switch {
		case found && save:
			s.writeCall(id)
		case found:
			s.removeCall(id)
		default:
			if err := writeHistory(filepath.Join(s.dir, historyFile), hist); err != nil {
				s.log.Warn("call history not saved", "err", err)
			}
		}
	}
}

func (s *saver) writeCall(id string) {
	call, ok := s.call(id)
	if !ok {
		return // ended, or stored for a re-launch: its file stays as it is
	}
	n, err := call.StorageSize()
	if err != nil {
		return // not connected (yet, or any more)
	}
	buf, err := call.Checkpoint(make([]byte, 0, n))
	if err != nil {
		return
	}
	path := s.callFile(id)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		s.log.Warn("call not saved", "call", id, "err", err)
		return
	}
	if err := sipua.WriteBufferFile(path, buf); err != nil {
		s.log.Warn("call not saved", "call", id, "err", err)
		return
	}
	s.mu.Lock()
	s.written[id] = true
	s.mu.Unlock()
}

func (s *saver) removeCall(id string) {
	if err := os.Remove(s.callFile(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("saved call not removed", "call", id, "err", err)
	}
	s.mu.Lock()
	delete(s.written, id)
	s.mu.Unlock()
}

// close waits for what is asked, then removes the files of this run's
// calls, which the endpoint's Close has hung up; nothing is written after.
// The saved calls of an earlier run stay, for the next start.
func (s *saver) close() {
	s.mu.Lock()
	for s.running {
		s.idle.Wait()
	}
	s.disabled = true
	ids := make([]string, 0, len(s.written))
	for id := range s.written {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	for _, id := range ids {
		s.removeCall(id)
	}
}

// flush waits until everything asked so far is written.
func (s *saver) flush() {
	s.mu.Lock()
	for s.running {
		s.idle.Wait()
	}
	s.mu.Unlock()
}

// loadSaved reads the saved calls of an earlier run. A file that is not a
// call buffer (damaged, truncated: BC-29) is reported and removed.
func (s *saver) loadSaved() ([]SavedCall, []string) {
	if s.dir == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(filepath.Join(s.dir, callsDir))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("saved calls not read", "err", err)
		}
		return nil, nil
	}
	var out []SavedCall
	var problems []string
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), callExt) {
			continue // the temporary files of a write cut short among them
		}
		path := filepath.Join(s.dir, callsDir, e.Name())
		sc, err := readSaved(path)
		if err != nil {
			s.log.Warn("saved call unreadable: removed", "file", path, "err", err)
			problems = append(problems, err.Error())
			if rerr := os.Remove(path); rerr != nil {
				s.log.Warn("saved call not removed", "file", path, "err", rerr)
			}
			continue
		}
		if path != s.callFile(sc.ID) {
			s.log.Warn("saved call under another name: skipped", "file", path, "call", sc.ID)
			continue
		}
		out = append(out, sc)
	}
	slices.SortFunc(out, func(a, b SavedCall) int { return a.Since.Compare(b.Since) })
	return out, problems
}

func readSaved(path string) (SavedCall, error) {
	buf, err := readBounded(path, maxCallBuffer)
	if err != nil {
		return SavedCall{}, err
	}
	info, err := sipua.BufferInfo(buf)
	if err != nil {
		return SavedCall{}, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	var at time.Time
	if fi, err := os.Stat(path); err == nil {
		at = fi.ModTime()
	}
	return SavedCall{
		ID:        info.ID,
		Site:      siteNumber(info.Site),
		Direction: info.Direction,
		Peer:      info.PeerURI,
		PeerName:  info.PeerName,
		Since:     info.Answered,
		SavedAt:   at,
	}, nil
}

// readBounded reads a file of at most limit bytes.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	buf := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return buf, nil
}

// siteNumber is the site of a SIP account name (siteName), 0 for another.
func siteNumber(account string) int {
	for site := 1; site <= 2; site++ {
		if account == siteName(site) {
			return site
		}
	}
	return 0
}

// onCallSaved keeps the call's checkpoint in step with the call: written
// while it is connected or held, removed once it ended, except when it
// was stored for a re-launch (it comes back at once, and until then its
// file is the call).
func (c *Core) onCallSaved(ev sipua.CallEvent) {
	switch {
	case ev.State == sipua.CallConnected || ev.State == sipua.CallHeld:
		c.saved.checkpoint(ev.ID)
	case ev.State == sipua.CallEnded && ev.EndReason != sipua.EndStored:
		c.saved.remove(ev.ID)
	}
}

// RestoreSavedCalls continues the calls an earlier run left connected
// (State.SavedCalls) in this run's SIP endpoint (BC-30): each comes back
// connected with the same id, and its peer learns where the call now is
// (a target-refresh re-INVITE; the new process usually has another SIP
// port). A call that cannot go on (its peer hung up meanwhile, its site is
// not this agent's) gets a notice and is forgotten. It needs the SIP
// endpoint, which starts with the first login.
func (c *Core) RestoreSavedCalls() error {
	ep, err := c.anyEndpoint()
	if err != nil {
		return err
	}
	saved, err := c.takeSavedCalls()
	if err != nil {
		return err
	}
	var errs []error
	for _, sc := range saved {
		path := c.saved.callFile(sc.ID)
		buf, err := readBounded(path, maxCallBuffer)
		var call *sipua.Call
		if err == nil {
			call, err = ep.RecoverCall(buf)
		}
		switch {
		case call == nil:
			errs = append(errs, fmt.Errorf("call with %s: %w", sc.Peer, err))
			c.notify(continuity.Warning, sc.Site, fmt.Sprintf("the saved call with %s could not be restored: %v", sc.Peer, err))
			c.saved.remove(sc.ID)
		case err != nil && call.Info().State == sipua.CallEnded:
			// The peer no longer knew the call (481): its end removes the file.
			errs = append(errs, fmt.Errorf("call with %s: ended by its peer meanwhile: %w", sc.Peer, err))
			c.notify(continuity.Warning, sc.Site, fmt.Sprintf("the saved call with %s had ended at its peer", sc.Peer))
		case err != nil:
			// Restored; the peer may not know where it is (or ended it:
			// then the call's end removes its file).
			c.log.Warn("restored call: target refresh", "call", sc.ID, "err", err)
			c.notify(continuity.Warning, sc.Site, fmt.Sprintf("the call with %s was restored, but its peer did not take the new address: %v", sc.Peer, err))
		default:
			c.log.Info("saved call restored", "call", sc.ID, "peer", sc.Peer)
			c.notify(continuity.Info, sc.Site, fmt.Sprintf("the call with %s was restored", sc.Peer))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("restore saved calls: %w", err)
	}
	return nil
}

// DiscardSavedCalls forgets the calls an earlier run left (State.SavedCalls)
// without continuing them; their peers are not told (restore and hang up
// to end them properly).
func (c *Core) DiscardSavedCalls() error {
	saved, err := c.takeSavedCalls()
	if err != nil {
		return err
	}
	for _, sc := range saved {
		c.saved.remove(sc.ID)
	}
	c.saved.flush()
	c.log.Info("saved calls discarded", "calls", len(saved))
	return nil
}

// loadState reads what the earlier runs left in Options.StateDir: their
// call history and their saved calls. What cannot be read is logged (and
// a damaged saved call told in a notice); the run starts without it.
func (c *Core) loadState() {
	c.saved = newSaver(c.opts.StateDir, c.log, func(id string) (*sipua.Call, bool) {
		ep, err := c.anyEndpoint()
		if err != nil {
			return nil, false
		}
		return ep.Call(id)
	})
	if c.opts.StateDir == "" {
		return
	}
	hist, err := loadHistory(filepath.Join(c.opts.StateDir, historyFile))
	if err != nil {
		c.log.Warn("call history unreadable: starting with none", "err", err)
	}
	saved, problems := c.saved.loadSaved()
	c.mu.Lock()
	c.st.CallHistory = hist
	c.st.SavedCalls = saved
	c.mu.Unlock()
	for _, p := range problems {
		c.notify(continuity.Warning, 0, "a saved call could not be read and was removed: "+p)
	}
	if len(saved) > 0 {
		c.log.Info("saved calls found", "calls", len(saved))
	}
}

// takeSavedCalls takes the offer of saved calls out of the state.
func (c *Core) takeSavedCalls() ([]SavedCall, error) {
	c.mu.Lock()
	saved := c.st.SavedCalls
	c.st.SavedCalls = nil
	c.mu.Unlock()
	if len(saved) == 0 {
		return nil, ErrNoSavedCalls
	}
	c.publish()
	return saved, nil
}
