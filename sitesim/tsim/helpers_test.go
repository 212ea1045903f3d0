package tsim

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/internal/testutil"
	"github.com/tandem-softphone/tandem/link"
	"github.com/tandem-softphone/tandem/sitesim/directory"
	"github.com/tandem-softphone/tandem/wire"
)

var quiet = testutil.Quiet()

// testDir holds three agents with DNs 5001..5003 at site 1 and 6001..6003 at site 2.
func testDir() *directory.Directory {
	d := directory.NewDirectory()
	for _, n := range []string{"1", "2", "3"} {
		d.AddPerson(directory.Person{
			UserName: "agent" + n,
			Password: "pw" + n,
			AgentID:  "100" + n,
			Places:   [2]string{"Place_500" + n, "Place_600" + n},
			DNs:      [2]string{"500" + n, "600" + n},
		}, "sip")
	}
	return d
}

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// count returns how many observed events have that name.
func count(obs *testutil.Recorder[Event], name string) int {
	return obs.Count(func(e Event) bool { return e.Msg.Name == name })
}

// start runs a Server for site 1 on loopback ephemeral ports.
func start(t *testing.T, edit func(*Options)) (*Server, *testutil.Recorder[Event]) {
	t.Helper()
	obs := testutil.NewRecorder[Event]()
	opts := Options{
		Site:        1,
		SiteName:    "Test_SiteA",
		Dir:         testDir(),
		PrimaryAddr: "127.0.0.1:0",
		BackupAddr:  "127.0.0.1:0",
		Link:        link.Options{Logger: quiet},
		OnEvent:     obs.Add,
		Logger:      quiet,
	}
	if edit != nil {
		edit(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, obs
}

// tclient is a link client that queues the unsolicited events it gets.
type tclient struct {
	t      *testing.T
	c      *link.Conn
	events chan wire.Message
}

func dial(t *testing.T, addr string) *tclient {
	t.Helper()
	tc := &tclient{t: t, events: make(chan wire.Message, 100)}
	c, err := link.Dial(context.Background(), addr, link.Options{
		AppName: "test",
		Logger:  quiet,
		Handler: func(_ *link.Conn, m wire.Message) { tc.events <- m },
	})
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	tc.c = c
	return tc
}

func (tc *tclient) req(name string, attrs wire.KVList) (wire.Message, error) {
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Wait)
	defer cancel()
	return tc.c.Request(ctx, wire.Message{Name: name, Attrs: attrs})
}

// ok sends a request that must succeed with the answer named want.
func (tc *tclient) ok(name string, attrs wire.KVList, want string) wire.Message {
	tc.t.Helper()
	ans, err := tc.req(name, attrs)
	if err != nil {
		tc.t.Fatalf("%s: %v", name, err)
	}
	if ans.Name != want {
		tc.t.Fatalf("%s answered %s, want %s", name, ans.Name, want)
	}
	return ans
}

// refused sends a request that must be refused with code.
func (tc *tclient) refused(name string, attrs wire.KVList, code int64) *link.RemoteError {
	tc.t.Helper()
	ans, err := tc.req(name, attrs)
	var re *link.RemoteError
	if !errors.As(err, &re) {
		tc.t.Fatalf("%s: got %v (%s), want error code %d", name, err, ans, code)
	}
	if re.Code != code {
		tc.t.Fatalf("%s: error %d %q, want code %d", name, re.Code, re.Message, code)
	}
	if re.Message == "" {
		tc.t.Fatalf("%s: error %d without a message", name, re.Code)
	}
	return re
}

// next waits for the next unsolicited event, which must be named want.
func (tc *tclient) next(want string) wire.Message {
	tc.t.Helper()
	select {
	case m := <-tc.events:
		if m.Name != want {
			tc.t.Fatalf("event %s, want %s", m, want)
		}
		if m.RefID != 0 {
			tc.t.Fatalf("unsolicited %s has RefID %d", m.Name, m.RefID)
		}
		return m
	case <-time.After(testutil.Wait):
		tc.t.Fatalf("no %s within %v", want, testutil.Wait)
	}
	return wire.Message{}
}

// none checks that no unsolicited event is queued. Events are queued before
// the answer that follows them on the same link, so a request made first
// (a query) flushes anything pending.
func (tc *tclient) none(dn string) {
	tc.t.Helper()
	tc.ok(wire.RequestQueryAddress, dnAttrs(dn), wire.EventAddressInfo)
	select {
	case m := <-tc.events:
		tc.t.Fatalf("unexpected event %s", m)
	default:
	}
}

func dnAttrs(dn string) wire.KVList { return wire.KVList{}.Add(wire.AttrThisDN, dn) }

func loginAttrs(dn, agentID, place string, workMode int64) wire.KVList {
	return dnAttrs(dn).
		Add(wire.AttrAgentID, agentID).
		Add(wire.AttrPlace, place).
		Add(wire.AttrAgentWorkMode, workMode)
}

func reasonsOf(m wire.Message) (ext, reasons string) {
	return m.Attrs.List(wire.AttrExtensions).String(wire.AttrReasonCode),
		m.Attrs.List(wire.AttrReasons).String(wire.AttrReasonCode)
}

// registered dials addr, registers dn and checks the answer's state.
func registered(t *testing.T, addr, dn, wantState string) *tclient {
	t.Helper()
	tc := dial(t, addr)
	ans := tc.ok(wire.RequestRegisterAddress, dnAttrs(dn), wire.EventRegistered)
	if got := ans.Attrs.String(wire.AttrAgentState); got != wantState {
		t.Fatalf("EventRegistered %s: state %q, want %q", dn, got, wantState)
	}
	return tc
}
