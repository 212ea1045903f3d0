package core

import (
	"strings"
	"testing"

	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/internal/testutil"
	"github.com/tandem-softphone/tandem/sitesim"
)

// The agent chooses site 2 at login although its Person prefers site 1:
// the login starts at site 2 and stays there (no BC-10 move). With no
// choice (0), the next login goes to the preferred site again.
func TestLoginAtChosenSite(t *testing.T) {
	sim := startSim(t, nil)
	c := startCore(t, sim, "agent1", nil)
	ctx := testutil.Context(t)
	if err := c.Login(ctx, "", sitesim.DemoPassword, 3); err == nil || !strings.Contains(err.Error(), "no site 3") {
		t.Fatalf("Login at site 3: %v", err)
	}
	if err := c.Login(ctx, "", sitesim.DemoPassword, 2); err != nil {
		t.Fatalf("Login at site 2: %v", err)
	}
	s := waitLoggedIn(t, c, 2)
	if s.Preferred != 1 {
		t.Fatalf("preferred %d, want the Person's site 1", s.Preferred)
	}
	if hasStep(s, "switchover") || len(timelines(s, "switchover")) != 0 {
		t.Fatalf("moved after a login at a chosen site:\n%s", dump(s))
	}
	if _, ok := simAgent(t, sim, 2, "1001"); !ok {
		t.Fatal("agent not logged in at site 2's T-Server")
	}
	if _, ok := simAgent(t, sim, 1, "1001"); ok {
		t.Fatal("agent logged in at site 1 too")
	}

	if err := c.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "logged out", func(s State) bool { return s.Phase == continuity.LoggedOut })
	login(t, c, 1)
}
