package registrar

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"github.com/tandem-softphone/tandem/internal/testutil"
)

const testRealm = "site1.test"

var testUsers = map[string]string{"1001": "secret-1001", "1002": "secret-1002"}

func TestMain(m *testing.M) {
	// sipgo's client side logs through the default logger; keep test output
	// readable unless asked for.
	if os.Getenv("REGISTRAR_TEST_LOG") == "" {
		slog.SetDefault(testutil.Quiet())
	}
	os.Exit(m.Run())
}

// testRegistrar starts a Registrar on loopback ephemeral ports with MinExpires
// 1 s; its Changes go to the returned channel. It is closed at cleanup.
func testRegistrar(t testing.TB, edit func(*Options)) (*Registrar, <-chan Change) {
	t.Helper()
	changes := make(chan Change, 100)
	opts := Options{
		Realm: testRealm,
		Password: func(user string) (string, bool) {
			pw, ok := testUsers[user]
			return pw, ok
		},
		UDPAddr:    "127.0.0.1:0",
		TCPAddr:    "127.0.0.1:0",
		Logger:     testutil.Quiet(),
		MinExpires: time.Second,
		OnChange:   func(c Change) { changes <- c },
	}
	if edit != nil {
		edit(&opts)
	}
	r, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r, changes
}

// waitChange waits up to 5 s for the next Change and checks it.
func waitChange(t *testing.T, changes <-chan Change, dn string, registered bool, reason string) Change {
	t.Helper()
	select {
	case c := <-changes:
		if c.DN != dn || c.Registered != registered || c.Reason != reason {
			t.Fatalf("change = %+v, want DN %s registered %v reason %s", c, dn, registered, reason)
		}
		return c
	case <-time.After(testutil.Wait):
		t.Fatalf("no change for %s (%s) within %v", dn, reason, testutil.Wait)
	}
	return Change{}
}

// noChange checks that no Change is queued after pending deliveries had a
// moment to run.
func noChange(t *testing.T, changes <-chan Change) {
	t.Helper()
	select {
	case c := <-changes:
		t.Fatalf("unexpected change %+v", c)
	case <-time.After(50 * time.Millisecond):
	}
}

func newClient(t testing.TB) *sipgo.Client {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("tester"))
	if err != nil {
		t.Fatalf("NewUA: %v", err)
	}
	t.Cleanup(func() { ua.Close() })
	c, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

// target is the registrar's Request-URI for transport "udp" or "tcp".
func target(r *Registrar, transport string) sip.Uri {
	u := sip.Uri{Scheme: "sip", Host: "127.0.0.1"}
	if transport == "tcp" {
		u.Port = r.TCPAddr().Port
		u.UriParams = sip.HeaderParams{}
		u.UriParams.Add("transport", "tcp")
	} else {
		u.Port = r.UDPAddr().Port
	}
	return u
}

// newRegister builds a REGISTER for dn's AOR. contact "" makes a query;
// expires < 0 leaves the Expires header out.
func newRegister(to sip.Uri, dn, contact string, expires int) *sip.Request {
	req := sip.NewRequest(sip.REGISTER, to)
	aor := sip.Uri{Scheme: "sip", User: dn, Host: testRealm}
	from := &sip.FromHeader{Address: aor}
	from.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: aor})
	if contact != "" {
		req.AppendHeader(sip.NewHeader("Contact", contact))
	}
	if expires >= 0 {
		req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	}
	return req
}

// register sends req and answers a 401 with user's password.
func register(t testing.TB, c *sipgo.Client, req *sip.Request, user, password string) *sip.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := c.Do(ctx, req)
	if err != nil {
		t.Fatalf("REGISTER: %v", err)
	}
	if res.StatusCode != sip.StatusUnauthorized {
		return res
	}
	res, err = c.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: user, Password: password})
	if err != nil {
		t.Fatalf("REGISTER with credentials: %v", err)
	}
	return res
}

// contactsOf returns the Contact values of a response.
func contactsOf(res *sip.Response) []string {
	var out []string
	for _, h := range res.GetHeaders("Contact") {
		out = append(out, h.Value())
	}
	return out
}

// parseRequest parses a request written as header lines.
func parseRequest(t testing.TB, lines ...string) *sip.Request {
	t.Helper()
	msg, err := sip.ParseMessage([]byte(strings.Join(lines, "\r\n") + "\r\nContent-Length: 0\r\n\r\n"))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	req, ok := msg.(*sip.Request)
	if !ok {
		t.Fatalf("not a request: %T", msg)
	}
	req.SetSource("127.0.0.1:5099")
	return req
}

var seq = struct {
	sync.Mutex
	n int
}{}

// rawRegister is a REGISTER for dn from call-ID callID with the given CSeq
// and extra header lines (Contact, Expires, ...).
func rawRegister(t testing.TB, dn, callID string, cseq int, extra ...string) *sip.Request {
	t.Helper()
	seq.Lock()
	seq.n++
	branch := fmt.Sprintf("z9hG4bK-test-%d", seq.n)
	seq.Unlock()
	lines := []string{
		"REGISTER sip:" + testRealm + " SIP/2.0",
		"Via: SIP/2.0/UDP 127.0.0.1:5099;branch=" + branch,
		"Max-Forwards: 70",
		"From: <sip:" + dn + "@" + testRealm + ">;tag=abc",
		"To: <sip:" + dn + "@" + testRealm + ">",
		"Call-ID: " + callID,
		"CSeq: " + strconv.Itoa(cseq) + " REGISTER",
	}
	return parseRequest(t, append(lines, extra...)...)
}

// challengeFor returns the challenge of res for algorithm alg.
func challengeFor(t testing.TB, res *sip.Response, alg string) *digest.Challenge {
	t.Helper()
	for _, h := range res.GetHeaders("WWW-Authenticate") {
		ch, err := digest.ParseChallenge(h.Value())
		if err != nil {
			t.Fatalf("parse challenge %q: %v", h.Value(), err)
		}
		if ch.Algorithm == alg {
			return ch
		}
	}
	t.Fatalf("no %s challenge in %v", alg, res.GetHeaders("WWW-Authenticate"))
	return nil
}

// authorize adds credentials for ch to req.
func authorize(t testing.TB, req *sip.Request, ch *digest.Challenge, user, password string, count int) {
	t.Helper()
	cred, err := digest.Digest(ch, digest.Options{
		Method:   string(req.Method),
		URI:      req.Recipient.String(),
		Username: user,
		Password: password,
		Count:    count,
	})
	if err != nil {
		t.Fatalf("digest: %v", err)
	}
	req.RemoveHeader("Authorization")
	req.AppendHeader(sip.NewHeader("Authorization", cred.String()))
}

// registerDirect runs a REGISTER through handleRegister, answering the
// challenge with algorithm alg.
func registerDirect(t testing.TB, r *Registrar, alg, user, password string, req *sip.Request) *sip.Response {
	t.Helper()
	res := r.handleRegister(req)
	if res.StatusCode != sip.StatusUnauthorized {
		t.Fatalf("first REGISTER: %d, want 401", res.StatusCode)
	}
	authorize(t, req, challengeFor(t, res, alg), user, password, 1)
	return r.handleRegister(req)
}

// fakeClock is a Clock that moves only when told.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	clock *fakeClock
	at    time.Time
	f     func()
	done  bool
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clock: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	was := !t.done
	t.done = true
	return was
}

// Advance moves the clock and runs the timers that fall due, in order.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due, pending []*fakeTimer
	for _, t := range c.timers {
		switch {
		case t.done:
		case !t.at.After(c.now):
			t.done = true
			due = append(due, t)
		default:
			pending = append(pending, t)
		}
	}
	c.timers = pending
	c.mu.Unlock()
	slices.SortStableFunc(due, func(a, b *fakeTimer) int { return a.at.Compare(b.at) })
	for _, t := range due {
		t.f()
	}
}
