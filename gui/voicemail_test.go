package gui

import (
	"testing"

	"github.com/tandem-softphone/tandem/core"
)

func TestVoicemailText(t *testing.T) {
	for _, tc := range []struct {
		vm      core.Voicemail
		want    string
		waiting bool
	}{
		{core.Voicemail{}, "", false},
		{core.Voicemail{Known: true}, "Voicemail: no messages", false},
		{core.Voicemail{Known: true, Old: 4}, "Voicemail: no new, 4 old", false},
		{core.Voicemail{Known: true, Waiting: true, New: 2, Old: 5}, "Voicemail: 2 new, 5 old", true},
		{core.Voicemail{Known: true, Waiting: true}, "Voicemail: new messages", true},
	} {
		got, waiting := voicemailText(tc.vm)
		if got != tc.want || waiting != tc.waiting {
			t.Errorf("%+v: %q %v, want %q %v", tc.vm, got, waiting, tc.want, tc.waiting)
		}
	}
}

// The badge shows once a summary arrived and follows its changes.
func TestVoicemailBadge(t *testing.T) {
	f := newFake(sampleReady())
	u := newTestUI(t, f)
	b := u.main.mail
	if b.box.Visible() {
		t.Fatal("badge shown before any summary")
	}
	st := sampleReady()
	st.Voicemail = core.Voicemail{Known: true, Waiting: true, New: 3, Old: 1, Site: 1}
	f.set(st)
	if !b.box.Visible() || b.badge.text.Text != "Voicemail: 3 new, 1 old" {
		t.Fatalf("badge %q visible %v", b.badge.text.Text, b.box.Visible())
	}
	st.Voicemail = core.Voicemail{Known: true, Old: 4, Site: 1}
	f.set(st)
	if b.badge.text.Text != "Voicemail: no new, 4 old" {
		t.Fatalf("badge %q after the messages were heard", b.badge.text.Text)
	}
}
