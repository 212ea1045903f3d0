package sipua

import (
	"errors"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

func TestFirstSupportedChallenge(t *testing.T) {
	for _, tc := range []struct {
		name    string
		values  []string
		wantAlg string
		wantErr bool
	}{
		{"md5 without algorithm", []string{`Digest realm="a", nonce="n1"`}, "", false},
		{"topmost supported wins", []string{
			`Digest realm="a", nonce="n1", algorithm=AKAv1-MD5, qop="auth"`,
			`Digest realm="a", nonce="n2", algorithm=SHA-256, qop="auth"`,
			`Digest realm="a", nonce="n3", algorithm=MD5, qop="auth"`,
		}, "SHA-256", false},
		{"lower case algorithm", []string{`Digest realm="a", nonce="n", algorithm=sha-256, qop="auth"`}, "SHA-256", false},
		{"qop list with spaces", []string{`Digest realm="a", nonce="n", algorithm=MD5, qop="auth-int, auth"`}, "MD5", false},
		{"md5-sess unsupported", []string{`Digest realm="a", nonce="n", algorithm=MD5-sess`}, "", true},
		{"no nonce", []string{`Digest realm="a", algorithm=MD5`}, "", true},
		{"not digest", []string{`Basic realm="a"`}, "", true},
		{"none", nil, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := firstSupported(tc.values)
			if tc.wantErr {
				if !errors.Is(err, errNoChallenge) {
					t.Fatalf("err %v, want errNoChallenge", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ch.Algorithm != tc.wantAlg {
				t.Fatalf("algorithm %q, want %q", ch.Algorithm, tc.wantAlg)
			}
		})
	}
}

// The credentials use the full Request-URI and the right header for a 407.
func TestAuthorizeProxyChallenge(t *testing.T) {
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: "site1.test"})
	res := sip.NewResponse(sip.StatusProxyAuthRequired, "Proxy Authentication Required")
	res.AppendHeader(sip.NewHeader("Proxy-Authenticate", `Digest realm="site1.test", nonce="abc", algorithm=SHA-256, qop="auth"`))
	ch, err := pickChallenge(res)
	if err != nil {
		t.Fatal(err)
	}
	if err := authorize(req, ch, "1001", "pw"); err != nil {
		t.Fatal(err)
	}
	h := req.GetHeader("Proxy-Authorization")
	if h == nil {
		t.Fatal("no Proxy-Authorization")
	}
	cred, err := digest.ParseCredentials(h.Value())
	if err != nil {
		t.Fatal(err)
	}
	if cred.URI != "sip:site1.test" || cred.Username != "1001" || cred.Algorithm != "SHA-256" || cred.QOP != "auth" {
		t.Fatalf("credentials %+v", cred)
	}
}

// FuzzFirstSupported feeds challenge header values, one per line, as a
// registrar could send them: never a panic, and a picked challenge can be
// answered.
func FuzzFirstSupported(f *testing.F) {
	f.Add("Digest realm=\"a\", nonce=\"n\", algorithm=SHA-256, qop=\"auth\"\nDigest realm=\"a\", nonce=\"n\", algorithm=MD5, qop=\"auth\"")
	f.Add(`Digest realm="a", nonce="n", qop="auth-int"`)
	f.Add(`Digest realm=a, nonce=, stale=TRUE, userhash=true`)
	f.Fuzz(func(t *testing.T, s string) {
		ch, err := firstSupported(strings.Split(s, "\n"))
		if err != nil {
			return
		}
		if _, err := digest.Digest(ch, digest.Options{Method: "REGISTER", URI: "sip:x", Username: "u", Password: "p"}); err != nil {
			t.Fatalf("picked %+v but cannot answer it: %v", ch, err)
		}
	})
}
