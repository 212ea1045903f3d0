package registrar

import (
	"testing"

	"github.com/emiago/sipgo/sip"
)

// FuzzRegister feeds any message through the REGISTER path, with and without
// authentication: no input may panic, and every request gets a final
// response.
func FuzzRegister(f *testing.F) {
	r, _, _ := fakeRegistrar(f, nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := sip.ParseMessage(data)
		req, ok := msg.(*sip.Request)
		if err != nil || !ok {
			return
		}
		for _, res := range []*sip.Response{r.handleRegister(req), r.register(req, noAuth)} {
			if res == nil || res.StatusCode < 200 || res.StatusCode > 699 {
				t.Fatalf("response %v", res)
			}
		}
	})
}

// FuzzAuthorization puts any value in the Authorization header of a
// well-formed REGISTER: it must be challenged, refused or accepted, never
// crash.
func FuzzAuthorization(f *testing.F) {
	r, _, _ := fakeRegistrar(f, nil)
	f.Fuzz(func(t *testing.T, auth string) {
		req := rawRegister(t, "1001", "call-fuzz", 1, "Contact: <sip:1001@127.0.0.1:5099>")
		req.AppendHeader(sip.NewHeader("Authorization", auth))
		switch res := r.handleRegister(req); res.StatusCode {
		case sip.StatusUnauthorized, sip.StatusForbidden:
		default:
			t.Fatalf("status %d for %q", res.StatusCode, auth)
		}
	})
}
