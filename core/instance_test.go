package core

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/internal/testutil"
	"github.com/tandem-softphone/tandem/sitesim"
)

// The SIP instance ID is made once and kept in the state directory,
// readable by its owner only; a damaged file is replaced, with an error
// that says so.
func TestInstanceIDKept(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	id, err := loadInstanceID(dir)
	if err != nil || !strings.HasPrefix(id, "urn:uuid:") || len(id) != len("urn:uuid:")+36 {
		t.Fatalf("first: %q, %v", id, err)
	}
	again, err := loadInstanceID(dir)
	if err != nil || again != id {
		t.Fatalf("second: %q, %v; want %q", again, err, id)
	}
	path := filepath.Join(dir, instanceFile)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v %v", path, fi.Mode(), err)
	}
	for _, bad := range []string{"", "urn:uuid:nope", "hello\n", strings.Repeat("x", 1000)} {
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		fresh, err := loadInstanceID(dir)
		if err == nil || !strings.HasPrefix(fresh, "urn:uuid:") || fresh == id {
			t.Fatalf("damaged %q: %q, %v; want a new ID and an error", bad, fresh, err)
		}
		if kept, err := loadInstanceID(dir); err != nil || kept != fresh {
			t.Fatalf("after replacing %q: %q, %v", bad, kept, err)
		}
	}
}

// A desktop that was killed left its binding at site 1's registrar (which
// binds by URI alone): the next start, with the same state directory and
// so the same +sip.instance, removes it at its first registration, so that
// calls no longer fork to the dead Contact.
func TestKilledRunsBindingRemoved(t *testing.T) {
	sim := startSim(t, nil)
	stateDir := t.TempDir()
	id, err := loadInstanceID(stateDir) // as the killed run made it
	if err != nil {
		t.Fatal(err)
	}
	reg := simSite(t, sim, 1).Registrar()
	dead := "sip:5001@127.0.0.1:9"
	testutil.Register(t, simSite(t, sim, 1).Addrs().SIP, "site1.sitesim", "5001", sitesim.DemoSIPPassword, testutil.Binding{Contact: dead, Instance: id})
	if b := reg.Lookup("5001"); len(b) != 1 || b[0].Contact != dead {
		t.Fatalf("the killed run's binding: %+v", b)
	}
	c := startCore(t, sim, "agent1", func(o *Options) { o.StateDir = stateDir; o.SIPExpires = time.Minute })
	login(t, c, 1)
	testutil.Eventually(t, "only the new run's binding left", func() bool {
		b := reg.Lookup("5001")
		return len(b) == 1 && b[0].Contact != dead
	})
}
