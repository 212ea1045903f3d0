package tsim

import (
	"bytes"
	"testing"

	"github.com/tandem-softphone/tandem/link"
	"github.com/tandem-softphone/tandem/wire"
)

// FuzzDispatch feeds the T-Server a sequence of frames from one link, as a
// hostile or broken desktop could send them after the handshake. Whatever
// they hold, every request gets one answer with its RefID, and the state
// keeps its invariants: one DN per agent, one agent per DN. The seeds in
// testdata/fuzz/FuzzDispatch are frame sequences: a whole agent session, and
// attributes of the wrong types.
func FuzzDispatch(f *testing.F) {
	s, err := New(Options{
		Site: 1, Dir: testDir(), PrimaryAddr: "127.0.0.1:0", BackupAddr: "127.0.0.1:0",
		AllowLoginOutOfService: true, Link: link.Options{Logger: quiet}, Logger: quiet,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	f.Fuzz(func(t *testing.T, data []byte) {
		cl := &client{member: link.Primary, dns: map[string]bool{}}
		r := bytes.NewReader(data)
		s.mu.Lock()
		defer func() {
			// Leave no trace for the next input.
			for dn := range cl.dns {
				delete(s.regs[dn], cl)
			}
			for dn := range s.agents {
				delete(s.agents, dn)
			}
			s.mu.Unlock()
		}()
		for {
			req, err := wire.ReadFrame(r)
			if err != nil {
				return
			}
			ans := s.dispatch(cl, req)
			if ans.RefID != req.RefID {
				t.Fatalf("%s ref %d answered with ref %d", req.Name, req.RefID, ans.RefID)
			}
			if _, err := wire.Append(nil, ans); err != nil {
				t.Fatalf("answer to %s does not encode: %v", req.Name, err)
			}
			ids := map[string]bool{}
			for dn, a := range s.agents {
				if a.dn != dn || ids[a.id] {
					t.Fatalf("state broken after %s: %+v", req, s.agents)
				}
				ids[a.id] = true
			}
		}
	})
}
