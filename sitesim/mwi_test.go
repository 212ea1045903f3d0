package sitesim

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/internal/testutil"
	"github.com/tandem-softphone/tandem/sipua"
)

// otherPackage is an event package the sites do not serve.
type otherPackage struct{}

func (otherPackage) Name() string                { return "presence" }
func (otherPackage) Accept() string              { return "application/pidf+xml" }
func (otherPackage) Parse(b []byte) (any, error) { return string(b), nil }

// A phone subscribes to its DN's voicemail at site 1 (RFC 3842): the
// notifier tells it the counts at once and at every change, refreshes and
// ends the subscription, and refuses other event packages.
func TestVoicemailNotifier(t *testing.T) {
	s := startSim(t, nil)
	s1 := site(t, s, 1)
	dn, ok := s.Dir().DN(1, "5002")
	if !ok {
		t.Fatal("no DN 5002 at site 1")
	}
	summaries := testutil.NewRecorder[sipua.SubscriptionInfo]()
	ep, err := sipua.New(sipua.Options{
		Accounts: []sipua.Account{{Site: "site1", Registrar: s1.Addrs().SIP, User: dn.Number, Password: dn.SIPPassword, Expires: time.Hour}},
		OnEvent: func(ev sipua.Event) {
			if se, ok := ev.(sipua.SubscriptionEvent); ok {
				summaries.Add(se.SubscriptionInfo)
			}
		},
		Logger: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := ep.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.Close() })
	testutil.Eventually(t, "registered", func() bool {
		r, err := ep.Registration("site1")
		return err == nil && r.State == sipua.RegistrationRegistered
	})

	counts := func(want sipua.MessageCounts, waiting bool) {
		t.Helper()
		testutil.Eventually(t, "summary", func() bool {
			for _, si := range summaries.All() {
				if m, ok := si.Content.(sipua.MessageSummary); ok && m.Voice() == want && m.Waiting == waiting && si.State == sipua.SubscriptionActive {
					return true
				}
			}
			return false
		})
	}
	sub, err := ep.Subscribe(sipua.SubscribeOptions{Site: "site1", Expires: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	counts(sipua.MessageCounts{}, false)
	if err := s.SetMessages("5002", 3, 1); err != nil {
		t.Fatal(err)
	}
	counts(sipua.MessageCounts{New: 3, Old: 1}, true)
	// The subscription outlives its 2 s by refreshing in the dialog.
	time.Sleep(2500 * time.Millisecond)
	if err := s.SetMessages("5002", 0, 4); err != nil {
		t.Fatal(err)
	}
	counts(sipua.MessageCounts{Old: 4}, false)
	if err := sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	// The notifier let it go: a change reaches nobody.
	if err := s.SetMessages("5002", 9, 9); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	for _, si := range summaries.All() {
		if m, ok := si.Content.(sipua.MessageSummary); ok && m.Voice().New == 9 {
			t.Fatal("a change reached the subscriber after it unsubscribed")
		}
	}

	if _, err := ep.Subscribe(sipua.SubscribeOptions{Site: "site1", Package: otherPackage{}}); !errors.Is(err, sipua.ErrSubscriptionRefused) {
		t.Fatalf("presence subscription: %v, want refused (489)", err)
	}
	if err := s.SetMessages("5002", -1, 0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("negative count: %v", err)
	}
}
