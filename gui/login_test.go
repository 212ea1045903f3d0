package gui

import (
	"errors"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/tandem-softphone/tandem/internal/credstore"
)

// The agent picks the site to log in at; the choice goes with the login and
// is kept for the next start.
func TestLoginAtChosenSite(t *testing.T) {
	f := newFake(sampleIdle())
	ready := sampleReady()
	f.loginSt = &ready
	u := newTestUI(t, f)
	if got := u.login.site.Options; len(got) != 3 || got[1] != "Site\u00a01\u00a0·\u00a0Paris" || got[2] != "Site\u00a02\u00a0·\u00a0Lyon" {
		t.Fatalf("site options %q", got)
	}
	u.login.site.SetSelectedIndex(2)
	if !strings.Contains(u.login.sites.Text, "at Site\u00a02\u00a0·\u00a0Lyon,\nor at Site\u00a01\u00a0·\u00a0Paris") {
		t.Errorf("login view says %q", u.login.sites.Text)
	}
	u.login.user.SetText("alice")
	test.Type(u.login.password, "s3cret")
	test.Tap(u.login.button)
	wantCalls(t, f, "Login(alice,s3cret,site 2)")
	if got := u.app.Preferences().Int(prefSite); got != 2 {
		t.Errorf("site choice kept as %d, want 2", got)
	}
}

// A password the agent asks to remember goes to the keyring store, never to
// the preferences; the next start fills it in.
func TestLoginRemembersPasswordInKeyring(t *testing.T) {
	store := &credstore.Memory{}
	f := newFake(sampleIdle())
	ready := sampleReady()
	f.loginSt = &ready
	u := newTestUIWith(t, f, func(o *Options) { o.Passwords = store })
	if !u.login.remember.Visible() {
		t.Fatal("no remember check with a keyring")
	}
	u.login.user.SetText("alice")
	test.Type(u.login.password, "s3cret")
	test.Tap(u.login.remember)
	test.Tap(u.login.button)
	if pw, err := store.Get("alice"); err != nil || pw != "s3cret" {
		t.Fatalf("keyring holds %q, %v", pw, err)
	}
	for _, k := range []string{prefLastUser, prefSite, prefTheme} {
		if strings.Contains(u.app.Preferences().String(k), "s3cret") {
			t.Fatalf("password in preference %s", k)
		}
	}

	// The next start fills it in, checked.
	f2 := newFake(sampleIdle())
	u2 := newTestUIWith(t, f2, func(o *Options) {
		o.Passwords = store
		testApp.Preferences().SetString(prefLastUser, "alice") // as the first start left it
	})
	if u2.login.user.Text != "alice" || u2.login.password.Text != "s3cret" || !u2.login.remember.Checked {
		t.Fatalf("second start: user %q password %q remember %v", u2.login.user.Text, u2.login.password.Text, u2.login.remember.Checked)
	}
	// Unchecked, a login forgets it.
	f2.loginSt = &ready
	test.Tap(u2.login.remember)
	test.Tap(u2.login.button)
	if _, err := store.Get("alice"); !errors.Is(err, credstore.ErrNotFound) {
		t.Fatalf("password kept after a login without remember: %v", err)
	}
}

// Without a usable keyring (no Secret Service) the login works and the
// agent is told, softly, that the password is not remembered.
func TestLoginKeyringUnavailable(t *testing.T) {
	store := &credstore.Memory{Fail: true}
	f := newFake(sampleIdle())
	ready := sampleReady()
	f.loginSt = &ready
	u := newTestUIWith(t, f, func(o *Options) {
		o.Passwords = store
		testApp.Preferences().SetString(prefLastUser, "alice")
	})
	if !u.login.keyNote.Visible() || !strings.Contains(u.login.keyNote.Text, "keyring is not available") || !u.login.remember.Disabled() {
		t.Fatalf("note %q visible %v, remember disabled %v", u.login.keyNote.Text, u.login.keyNote.Visible(), u.login.remember.Disabled())
	}
	if u.login.errTitle.Visible() {
		t.Errorf("a keyring failure shows as a login error: %q", u.login.errTitle.Text)
	}
	test.Type(u.login.password, "s3cret")
	test.Tap(u.login.button)
	if u.win.Content() != u.main.content {
		t.Fatal("no main view after a login without keyring")
	}
}
