package core

import (
	"testing"
)

// The core subscribes to the agent's voicemail through both sites once
// registered; the simulator's notifier reports the counts, and a change of
// the mailbox (sitesim ctl mwi) reaches the State.
func TestVoicemailSummary(t *testing.T) {
	sim := startSim(t, nil)
	c := startCore(t, sim, "agent1", nil)
	login(t, c, 1)
	waitState(t, c, "an empty mailbox reported", func(s State) bool {
		return s.Voicemail == Voicemail{Known: true, Site: 1}
	})
	if err := sim.SetMessages("5001", 2, 3); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "2 new and 3 old messages at site 1", func(s State) bool {
		return s.Voicemail == Voicemail{Known: true, Waiting: true, New: 2, Old: 3, Site: 1}
	})
	// Site 2's mailbox is the agent's DN there; its count is kept apart and
	// shown only while site 1's is not known.
	if err := sim.SetMessages("6001", 1, 0); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "site 2's summary kept", func(s State) bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.mwi.sites[1] == Voicemail{Known: true, Waiting: true, New: 1, Site: 2}
	})
	if vm := c.Snapshot().Voicemail; vm.Site != 1 {
		t.Fatalf("shows %+v, want site 1's (the current site)", vm)
	}
}

func TestPickVoicemail(t *testing.T) {
	one := Voicemail{Known: true, New: 1, Site: 1}
	two := Voicemail{Known: true, New: 2, Site: 2}
	for _, tc := range []struct {
		sites   [2]Voicemail
		current int
		want    Voicemail
	}{
		{[2]Voicemail{one, two}, 2, two},
		{[2]Voicemail{one, two}, 1, one},
		{[2]Voicemail{one, {Site: 2}}, 2, one}, // site 2's not known: site 1's
		{[2]Voicemail{one, two}, 0, one},
		{[2]Voicemail{}, 1, Voicemail{}},
	} {
		if got := pickVoicemail(tc.sites, tc.current); got != tc.want {
			t.Errorf("pickVoicemail(%+v, %d) = %+v, want %+v", tc.sites, tc.current, got, tc.want)
		}
	}
}

// A site's configured mailbox (siteN.sip.mailbox) is subscribed to instead
// of the agent's own DN there: a shared box "5002" at site 1.
func TestVoicemailConfiguredMailbox(t *testing.T) {
	sim := startSim(t, nil)
	c := startCore(t, sim, "agent1", func(o *Options) { o.Config.Sites[0].SIP.Mailbox = "5002" })
	if err := sim.SetMessages("5002", 4, 1); err != nil {
		t.Fatal(err)
	}
	login(t, c, 1)
	waitState(t, c, "the configured box's counts at site 1", func(s State) bool {
		return s.Voicemail == Voicemail{Known: true, Waiting: true, New: 4, Old: 1, Site: 1}
	})
	if err := sim.SetMessages("5001", 7, 0); err != nil {
		t.Fatal(err)
	}
	if err := sim.SetMessages("5002", 0, 5); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "the configured box's change", func(s State) bool {
		return s.Voicemail == Voicemail{Known: true, Old: 5, Site: 1}
	})
}
