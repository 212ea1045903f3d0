package sipua

import (
	"slices"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/tandem-softphone/tandem/internal/testutil"
	"github.com/tandem-softphone/tandem/sitesim/registrar"
)

const testInstance = "urn:uuid:8f7c2a64-3d1e-4b6a-9c53-0e2f4a1b7d90"

// A run that was killed left its binding at the registrar (the sim's binds
// by URI alone, RFC 3261): the next run of the same instance removes it
// at its first registration, and leaves the other devices' bindings
// alone, with or without an instance of their own.
func TestStaleBindingsOfOurInstanceRemoved(t *testing.T) {
	s := startSite(t, "site1.test", nil)
	dead := "sip:1001@127.0.0.1:9" // the killed run's port: nobody there
	other := "sip:1001@127.0.0.1:11"
	plain := "sip:1001@127.0.0.1:13"
	testutil.Register(t, s.UDPAddr().String(), s.realm, "1001", testPasswords["1001"],
		testutil.Binding{Contact: dead, Instance: testInstance},
		testutil.Binding{Contact: other, Instance: "urn:uuid:00000000-1111-2222-3333-444444444444"},
		testutil.Binding{Contact: plain},
	)
	opts := fastOptions(s.account("site1", TransportUDP, "1001"))
	// The instance as the state file keeps it may differ in case.
	opts.InstanceID = "urn:uuid:8F7C2A64-3D1E-4B6A-9C53-0E2F4A1B7D90"
	e, _ := startEndpoint(t, opts)
	reg := waitState(t, e, "site1", RegistrationRegistered, 5*time.Second)
	want := []string{other, plain, reg.Contact}
	eventually(t, "the killed run's binding removed", func() bool {
		var got []string
		for _, b := range s.Lookup("1001") {
			got = append(got, b.Contact)
		}
		slices.Sort(got)
		slices.Sort(want)
		return slices.Equal(got, want)
	})

	// A refresh does not look again: a binding of our instance that comes
	// later is another process's business (a second desktop of the same
	// user and machine), not a leftover.
	later := "sip:1001@127.0.0.1:15"
	testutil.Register(t, s.UDPAddr().String(), s.realm, "1001", testPasswords["1001"], testutil.Binding{Contact: later, Instance: testInstance})
	// The registration loop is sequential: once a second refresh is
	// through, the first one's aftermath (a sweep, if any) is too.
	for range 2 {
		before, err := e.Registration("site1")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Reregister("site1"); err != nil {
			t.Fatal(err)
		}
		eventually(t, "refreshed", func() bool {
			r, err := e.Registration("site1")
			return err == nil && r.ExpiresAt.After(before.ExpiresAt)
		})
	}
	if !slices.ContainsFunc(s.Lookup("1001"), func(b registrar.Binding) bool { return b.Contact == later }) {
		t.Error("a refresh removed a binding of our instance")
	}
}

// Against kamailio, the killed run's binding is gone once the new run of
// the same instance registered; another device's stays. (kamailio 5.6's
// save() matches a binding by +sip.instance first, reg-id or not, so its
// 200 lists no leftover and no sweep is needed.)
func TestKamailioBindingOfOurInstanceReplaced(t *testing.T) {
	k := startKamailio(t, "site1.test", "MD5")
	dead := "sip:1001@127.0.0.1:9"
	other := "sip:1001@127.0.0.1:11"
	testutil.Register(t, k.addr, k.realm, "1001", testPasswords["1001"], testutil.Binding{Contact: dead, Instance: testInstance}, testutil.Binding{Contact: other})
	opts := fastOptions(k.account("site1", TransportUDP, "1001"))
	opts.InstanceID = testInstance
	e, _ := startEndpoint(t, opts)
	reg := waitState(t, e, "site1", RegistrationRegistered, 5*time.Second)
	var got []string
	for _, h := range testutil.Register(t, k.addr, k.realm, "1001", testPasswords["1001"]).GetHeaders("Contact") {
		if ch, ok := h.(*sip.ContactHeader); ok {
			got = append(got, ch.Address.String())
		}
	}
	want := []string{other, reg.Contact}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("bindings %q, want %q", got, want)
	}
}
