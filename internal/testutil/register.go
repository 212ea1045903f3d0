package testutil

import (
	"context"
	"testing"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Binding is a Contact that Register binds, with its +sip.instance (RFC
// 5626; "" for none).
type Binding struct {
	Contact  string
	Instance string
}

// Register binds contacts of user at the registrar at addr (realm is the
// address of record's domain) as another device would, or a run of ours
// that was killed: a REGISTER of its own Call-ID for 300 s, its digest
// challenge answered with password. It returns the registrar's 2xx, whose
// Contacts are all of user's bindings there.
func Register(t testing.TB, addr, realm, user, password string, bindings ...Binding) *sip.Response {
	t.Helper()
	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	aor := sip.Uri{Scheme: "sip", User: user, Host: realm}
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: realm})
	req.AppendHeader(&sip.ToHeader{Address: aor})
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(from)
	for _, b := range bindings {
		var u sip.Uri
		if err := sip.ParseUri(b.Contact, &u); err != nil {
			t.Fatal(err)
		}
		h := &sip.ContactHeader{Address: u, Params: sip.NewParams()}
		if b.Instance != "" {
			h.Params.Add("+sip.instance", `"<`+b.Instance+`>"`)
		}
		req.AppendHeader(h)
	}
	exp := sip.ExpiresHeader(300)
	req.AppendHeader(&exp)
	req.SetDestination(addr)
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	res, err := client.Do(ctx, req)
	if err == nil && res.StatusCode == sip.StatusUnauthorized {
		res, err = client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: user, Password: password})
	}
	if err != nil {
		t.Fatalf("REGISTER %s at %s: %v", user, addr, err)
	}
	if !res.IsSuccess() {
		t.Fatalf("REGISTER %s at %s: %s", user, addr, res.StartLine())
	}
	return res
}
