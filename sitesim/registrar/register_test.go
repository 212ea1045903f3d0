package registrar

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// fakeRegistrar is a started registrar on a fake clock, for tests that call
// handleRegister directly.
func fakeRegistrar(t testing.TB, edit func(*Options)) (*Registrar, *fakeClock, <-chan Change) {
	t.Helper()
	clock := newFakeClock()
	r, changes := testRegistrar(t, func(o *Options) {
		o.Clock = clock
		o.TCPAddr = ""
		if edit != nil {
			edit(o)
		}
	})
	return r, clock, changes
}

// The challenge offers SHA-256 and MD5 with one nonce; credentials for
// either are accepted.
func TestEitherOfferedAlgorithmIsVerified(t *testing.T) {
	for _, alg := range []string{AlgorithmSHA256, AlgorithmMD5} {
		t.Run(alg, func(t *testing.T) {
			r, _, changes := fakeRegistrar(t, nil)
			req := rawRegister(t, "1001", "call-"+alg, 1, "Contact: <sip:1001@127.0.0.1:5099>", "Expires: 60")
			first := r.handleRegister(req)
			if got := len(first.GetHeaders("WWW-Authenticate")); got != 2 {
				t.Fatalf("%d challenges, want 2", got)
			}
			if challengeFor(t, first, AlgorithmSHA256).Nonce != challengeFor(t, first, AlgorithmMD5).Nonce {
				t.Fatal("challenges carry different nonces")
			}
			authorize(t, req, challengeFor(t, first, alg), "1001", testUsers["1001"], 1)
			if res := r.handleRegister(req); res.StatusCode != sip.StatusOK {
				t.Fatalf("status %d, want 200", res.StatusCode)
			}
			waitChange(t, changes, "1001", true, ReasonRegistered)
		})
	}
}

func TestStaleNonce(t *testing.T) {
	r, clock, _ := fakeRegistrar(t, func(o *Options) { o.NonceTTL = time.Minute })
	req := rawRegister(t, "1001", "call-stale", 1, "Contact: <sip:1001@127.0.0.1:5099>", "Expires: 60")
	ch := challengeFor(t, r.handleRegister(req), AlgorithmSHA256)
	if ch.Stale {
		t.Fatal("first challenge is stale")
	}
	clock.Advance(2 * time.Minute)

	authorize(t, req, ch, "1001", testUsers["1001"], 1)
	res := r.handleRegister(req)
	if res.StatusCode != sip.StatusUnauthorized || !challengeFor(t, res, AlgorithmSHA256).Stale {
		t.Fatalf("old nonce: %d %v, want 401 stale=true", res.StatusCode, res.GetHeaders("WWW-Authenticate"))
	}
	// A wrong password with an old nonce is still a wrong password.
	authorize(t, req, ch, "1001", "wrong", 1)
	if res := r.handleRegister(req); res.StatusCode != sip.StatusForbidden {
		t.Fatalf("old nonce, wrong password: %d, want 403", res.StatusCode)
	}
	// The fresh nonce works.
	authorize(t, req, challengeFor(t, res, AlgorithmSHA256), "1001", testUsers["1001"], 1)
	if res := r.handleRegister(req); res.StatusCode != sip.StatusOK {
		t.Fatalf("fresh nonce: %d, want 200", res.StatusCode)
	}
}

// Credentials the registrar cannot use get a new challenge, not a 403.
func TestUnusableCredentialsAreChallenged(t *testing.T) {
	r, _, _ := fakeRegistrar(t, func(o *Options) { o.Algorithms = []string{AlgorithmSHA256} })
	cases := map[string]string{
		"forged nonce":       `Digest username="1001", realm="site1.test", nonce="00000000000000000000000000000000000000000000000a", uri="sip:site1.test", response="00", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="x"`,
		"not offered MD5":    `Digest username="1001", realm="site1.test", nonce="abc", uri="sip:site1.test", response="00"`,
		"other realm":        `Digest username="1001", realm="elsewhere", nonce="abc", uri="sip:site1.test", response="00", algorithm=SHA-256`,
		"not digest":         `Basic MTAwMTpzZWNyZXQ=`,
		"unparseable digest": `Digest username=`,
	}
	for name, auth := range cases {
		t.Run(name, func(t *testing.T) {
			req := rawRegister(t, "1001", "call-x", 1, "Contact: <sip:1001@127.0.0.1:5099>", "Authorization: "+auth)
			res := r.handleRegister(req)
			if res.StatusCode != sip.StatusUnauthorized {
				t.Fatalf("status %d, want 401", res.StatusCode)
			}
			if got := len(res.GetHeaders("WWW-Authenticate")); got != 1 {
				t.Fatalf("%d challenges, want 1", got)
			}
		})
	}
}

func TestQOPVariants(t *testing.T) {
	r, _, _ := fakeRegistrar(t, nil)
	req := rawRegister(t, "1001", "call-qop", 1, "Contact: <sip:1001@127.0.0.1:5099>")
	ch := challengeFor(t, r.handleRegister(req), AlgorithmMD5)

	// RFC 2069 style (no qop) is still accepted.
	noQOP := *ch
	noQOP.QOP = nil
	authorize(t, req, &noQOP, "1001", testUsers["1001"], 1)
	if res := r.handleRegister(req); res.StatusCode != sip.StatusOK {
		t.Fatalf("no qop: %d, want 200", res.StatusCode)
	}
	// auth-int was not offered.
	authInt := *ch
	authInt.QOP = []string{"auth-int"}
	authorize(t, req, &authInt, "1001", testUsers["1001"], 1)
	if res := r.handleRegister(req); res.StatusCode != sip.StatusForbidden {
		t.Fatalf("auth-int: %d, want 403", res.StatusCode)
	}
}

// BC-18: each contact expires on its own; the DN goes out of service only
// when its last contact is gone.
func TestContactsExpireSeparately(t *testing.T) {
	r, clock, changes := fakeRegistrar(t, nil)
	res := registerDirect(t, r, AlgorithmSHA256, "1001", testUsers["1001"], rawRegister(t, "1001", "call-a", 1,
		"Contact: <sip:1001@127.0.0.1:5099>;expires=10, <sip:1001@127.0.0.1:5100>",
		"Expires: 30"))
	if res.StatusCode != sip.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	got := contactsOf(res)
	if len(got) != 2 || !strings.HasSuffix(got[0], "expires=10") || !strings.HasSuffix(got[1], "expires=30") {
		t.Fatalf("contacts %q", got)
	}
	waitChange(t, changes, "1001", true, ReasonRegistered)

	clock.Advance(10 * time.Second)
	if b := r.Lookup("1001"); len(b) != 1 || b[0].Contact != "sip:1001@127.0.0.1:5100" || b[0].Expires != 20*time.Second {
		t.Fatalf("after the first expiry: %+v", b)
	}
	noChange(t, changes)

	clock.Advance(20 * time.Second)
	ch := waitChange(t, changes, "1001", false, ReasonExpired)
	if ch.Contact != "sip:1001@127.0.0.1:5100" {
		t.Errorf("expired contact %q", ch.Contact)
	}
	if b := r.Bindings(); len(b) != 0 {
		t.Fatalf("bindings %+v", b)
	}
}

// BC-18: a refresh restarts the expiry; the old timer does nothing.
func TestRefreshRestartsExpiry(t *testing.T) {
	r, clock, changes := fakeRegistrar(t, nil)
	registerDirect(t, r, AlgorithmSHA256, "1001", testUsers["1001"], rawRegister(t, "1001", "call-r", 1,
		"Contact: <sip:1001@127.0.0.1:5099>", "Expires: 10"))
	waitChange(t, changes, "1001", true, ReasonRegistered)

	clock.Advance(8 * time.Second)
	res := registerDirect(t, r, AlgorithmSHA256, "1001", testUsers["1001"], rawRegister(t, "1001", "call-r", 3,
		"Contact: <sip:1001@127.0.0.1:5099>", "Expires: 10"))
	if res.StatusCode != sip.StatusOK {
		t.Fatalf("refresh %d", res.StatusCode)
	}
	clock.Advance(8 * time.Second) // past the first expiry time
	if b := r.Lookup("1001"); len(b) != 1 || b[0].Expires != 2*time.Second {
		t.Fatalf("after refresh: %+v", b)
	}
	noChange(t, changes)
	clock.Advance(2 * time.Second)
	waitChange(t, changes, "1001", false, ReasonExpired)
}

// RFC 3261 §10.3 step 7: an older request of the same call does not touch
// a binding.
func TestOutOfOrderCSeqIsRefused(t *testing.T) {
	r, _, _ := fakeRegistrar(t, nil)
	registerDirect(t, r, AlgorithmSHA256, "1001", testUsers["1001"], rawRegister(t, "1001", "call-o", 10,
		"Contact: <sip:1001@127.0.0.1:5099>", "Expires: 60"))

	for _, contact := range []string{"<sip:1001@127.0.0.1:5099>", "*"} {
		res := registerDirect(t, r, AlgorithmSHA256, "1001", testUsers["1001"], rawRegister(t, "1001", "call-o", 5,
			"Contact: "+contact, "Expires: 0"))
		if res.StatusCode != sip.StatusBadRequest {
			t.Fatalf("%s with an older CSeq: %d, want 400", contact, res.StatusCode)
		}
		if len(r.Lookup("1001")) != 1 {
			t.Fatalf("%s with an older CSeq changed the binding", contact)
		}
	}
	// Another call may always update it.
	res := registerDirect(t, r, AlgorithmSHA256, "1001", testUsers["1001"], rawRegister(t, "1001", "call-other", 1,
		"Contact: <SIP:1001@127.0.0.1:5099>", "Expires: 0"))
	if res.StatusCode != sip.StatusOK || len(r.Lookup("1001")) != 0 {
		t.Fatalf("other call: %d, bindings %+v", res.StatusCode, r.Lookup("1001"))
	}
}

func TestExpiresRules(t *testing.T) {
	cases := []struct {
		name    string
		headers []string
		status  int
		expires string // expires param of the only contact in a 200
	}{
		{"default", []string{"Contact: <sip:1001@h>"}, 200, "expires=3600"},
		{"header", []string{"Contact: <sip:1001@h>", "Expires: 45"}, 200, "expires=45"},
		{"param beats header", []string{"Contact: <sip:1001@h>;expires=50", "Expires: 45"}, 200, "expires=50"},
		{"clamped to max", []string{"Contact: <sip:1001@h>", "Expires: 4294967295"}, 200, "expires=7200"},
		{"malformed header is default", []string{"Contact: <sip:1001@h>", "Expires: soon"}, 200, "expires=3600"},
		{"malformed param falls back", []string{"Contact: <sip:1001@h>;expires=-3", "Expires: 45"}, 200, "expires=45"},
		{"too brief", []string{"Contact: <sip:1001@h>", "Expires: 4"}, 423, ""},
		{"wildcard without Expires", []string{"Contact: *"}, 400, ""},
		{"wildcard with nonzero Expires", []string{"Contact: *", "Expires: 60"}, 400, ""},
		{"wildcard among contacts", []string{"Contact: *, <sip:1001@h>", "Expires: 0"}, 400, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, _, _ := fakeRegistrar(t, func(o *Options) { o.MinExpires = 5 * time.Second })
			res := registerDirect(t, r, AlgorithmSHA256, "1001", testUsers["1001"], rawRegister(t, "1001", "call-e", 1, tc.headers...))
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.status)
			}
			if tc.status == 200 {
				got := contactsOf(res)
				if len(got) != 1 || !strings.HasSuffix(got[0], tc.expires) {
					t.Fatalf("contacts %q, want %s", got, tc.expires)
				}
			}
		})
	}
}

func TestRequireGets420(t *testing.T) {
	r, _, _ := fakeRegistrar(t, nil)
	res := r.handleRegister(rawRegister(t, "1001", "call-q", 1, "Contact: <sip:1001@h>", "Require: gruu, path"))
	if res.StatusCode != sip.StatusBadExtension {
		t.Fatalf("status %d, want 420", res.StatusCode)
	}
	if h := res.GetHeader("Unsupported"); h == nil || h.Value() != "gruu, path" {
		t.Fatalf("Unsupported = %v", h)
	}
}

func TestMalformedRequests(t *testing.T) {
	r, _, _ := fakeRegistrar(t, nil)
	noUser := parseRequest(t,
		"REGISTER sip:site1.test SIP/2.0",
		"Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-nouser",
		"From: <sip:site1.test>;tag=a",
		"To: <sip:site1.test>",
		"Call-ID: c1",
		"CSeq: 1 REGISTER")
	if res := r.handleRegister(noUser); res.StatusCode != sip.StatusNotFound {
		t.Errorf("AOR without user: %d, want 404", res.StatusCode)
	}
	noCallID := parseRequest(t,
		"REGISTER sip:site1.test SIP/2.0",
		"Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-nocallid",
		"From: <sip:1001@site1.test>;tag=a",
		"To: <sip:1001@site1.test>",
		"CSeq: 1 REGISTER")
	if res := r.handleRegister(noCallID); res.StatusCode != sip.StatusBadRequest {
		t.Errorf("no Call-ID: %d, want 400", res.StatusCode)
	}
}

// Every RFC 4475 torture request goes through the whole REGISTER path, as
// received and as if authenticated, without a panic.
func TestTortureMessages(t *testing.T) {
	r, _, _ := fakeRegistrar(t, nil)
	files, err := filepath.Glob(filepath.Join(sipgoDir(t), "sip", "testdata", "torture", "*", "*.dat"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no torture messages: %v", err)
	}
	parsed := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := sip.ParseMessage(data)
		req, ok := msg.(*sip.Request)
		if err != nil || !ok {
			continue
		}
		parsed++
		for _, res := range []*sip.Response{r.handleRegister(req), r.register(req, noAuth)} {
			if res == nil || res.StatusCode < 200 || res.StatusCode > 699 {
				t.Errorf("%s: bad response %v", filepath.Base(f), res)
			}
		}
	}
	if parsed < 10 {
		t.Fatalf("only %d torture requests parsed", parsed)
	}
}

// noAuth accepts every request, to reach the binding code directly.
func noAuth(*sip.Request, string) *sip.Response { return nil }

// sipgoDir is where the sipgo module is, for its RFC 4475 test data.
func sipgoDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/emiago/sipgo").Output()
	if err != nil {
		t.Fatalf("go list sipgo: %v", err)
	}
	return strings.TrimSpace(string(out))
}
