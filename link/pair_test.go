package link

import (
	"testing"

	"github.com/tandem-softphone/tandem/internal/testutil"
	"github.com/tandem-softphone/tandem/wire"
)

// counter is a test session: how many messages its link sent.
type counter struct {
	member Member
	n      int // touched by its link's read goroutine only
}

// echoPair answers every message with "Count" carrying the session's member
// and message count; ended receives every session whose link ended.
func echoPair(t *testing.T, ended chan<- *counter) *ServerPair[*counter] {
	t.Helper()
	p, err := ListenPair(PairOptions[*counter]{
		PrimaryAddr: "127.0.0.1:0",
		BackupAddr:  "127.0.0.1:0",
		Link:        Options{Logger: testutil.Quiet()},
		NewSession:  func(m Member, _ *Conn) *counter { return &counter{member: m} },
		Handle: func(c *Conn, s *counter, m wire.Message) {
			s.n++
			c.Send(wire.Message{Name: "Count", RefID: m.RefID, Attrs: wire.KVList{}.
				Add("Member", s.member.String()).Add("N", s.n)})
		},
		EndSession: func(s *counter) { ended <- s },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func announced(t *testing.T, p *ServerPair[*counter], m Member) string {
	t.Helper()
	c, err := Dial(testutil.Context(t), p.Addr(m), Options{Logger: testutil.Quiet()})
	if err != nil {
		t.Fatalf("dial the %s: %v", m, err)
	}
	defer c.Close()
	return c.Peer().Role
}

// wantRoles checks the roles both members report and announce.
func wantRoles(t *testing.T, p *ServerPair[*counter], primary, backup string) {
	t.Helper()
	for m, want := range map[Member]string{Primary: primary, Backup: backup} {
		if got := p.Role(m); got != want {
			t.Fatalf("the %s's role is %q, want %q", m, got, want)
		}
		if p.Mode(m) == Up {
			if got := announced(t, p, m); got != want {
				t.Fatalf("the %s announces %q, want %q", m, got, want)
			}
		}
	}
}

// The role model of every simulated pair: the backup takes the primary role
// when the primary stops answering, and a revived primary comes back as the
// backup until the new primary fails in turn.
func TestPairRoles(t *testing.T) {
	for _, mode := range []Mode{Closed, Blackhole} {
		t.Run(mode.String(), func(t *testing.T) {
			p := echoPair(t, make(chan *counter, 16))
			wantRoles(t, p, "primary", "backup")
			if err := p.SetMode(Primary, mode); err != nil {
				t.Fatal(err)
			}
			wantRoles(t, p, "backup", "primary")
			if err := p.SetMode(Primary, Up); err != nil {
				t.Fatal(err)
			}
			wantRoles(t, p, "backup", "primary")
			if err := p.SetMode(Backup, mode); err != nil {
				t.Fatal(err)
			}
			wantRoles(t, p, "primary", "backup")
			// Both down: the role stays where it was, and goes to whichever
			// member comes back first.
			if err := p.SetMode(Primary, mode); err != nil {
				t.Fatal(err)
			}
			wantRoles(t, p, "primary", "backup")
			if err := p.SetMode(Backup, Up); err != nil {
				t.Fatal(err)
			}
			wantRoles(t, p, "backup", "primary")
			got := p.Members()
			if len(got) != 2 || got[0].Member != "primary" || got[0].Mode != mode.String() || got[0].Role != "backup" ||
				got[1].Member != "backup" || got[1].Mode != "up" || got[1].Role != "primary" || got[1].Addr != p.Addr(Backup) {
				t.Fatalf("members %+v", got)
			}
		})
	}
}

// A link's session is made on its first message, serves every message of
// that link, and is dropped, and ended once, when the link ends.
func TestPairSessions(t *testing.T) {
	ended := make(chan *counter, 16)
	p := echoPair(t, ended)
	var conns []*Conn
	for _, m := range []Member{Primary, Backup, Primary} {
		c, err := Dial(testutil.Context(t), p.Addr(m), Options{Logger: testutil.Quiet()})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
		for want := int64(1); want <= 2; want++ {
			ans, err := c.Request(testutil.Context(t), wire.Message{Name: "Q"})
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := ans.Attrs.Int("N"); n != want || ans.Attrs.String("Member") != m.String() {
				t.Fatalf("answer %v, want message %d of a link to the %s", ans, want, m)
			}
		}
	}
	if n := len(p.Sessions()); n != 3 {
		t.Fatalf("%d sessions, want 3", n)
	}
	conns[1].Close()
	select {
	case s := <-ended:
		if s.member != Backup || s.n != 2 {
			t.Fatalf("ended session %+v, want the backup's", s)
		}
	case <-testutil.Context(t).Done():
		t.Fatal("session not ended with its link")
	}
	if n := len(p.Sessions()); n != 2 {
		t.Fatalf("%d sessions after a link ended, want 2", n)
	}
	// Closing the pair ends the others, before Close returns.
	p.Close()
	if len(ended) != 2 || len(p.Sessions()) != 0 {
		t.Fatalf("%d more sessions ended, %d left", len(ended), len(p.Sessions()))
	}
}

// A link that never sends a message has no session.
func TestPairNoMessageNoSession(t *testing.T) {
	p := echoPair(t, make(chan *counter, 16))
	c, err := Dial(testutil.Context(t), p.Addr(Primary), Options{Logger: testutil.Quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	testutil.Eventually(t, "link accepted", func() bool { return p.Links(Primary) == 1 })
	if n := len(p.Sessions()); n != 0 {
		t.Fatalf("%d sessions, want 0", n)
	}
}

func TestPairNeedsBothAddresses(t *testing.T) {
	_, err := ListenPair(PairOptions[int]{
		PrimaryAddr: "127.0.0.1:0",
		NewSession:  func(Member, *Conn) int { return 0 },
		Handle:      func(*Conn, int, wire.Message) {},
	})
	if err == nil {
		t.Fatal("a pair without a backup address listened")
	}
}
