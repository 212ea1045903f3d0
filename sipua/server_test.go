package sipua

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// The endpoint answers OPTIONS and refuses what it does not serve: 405 with
// Allow for a method it knows, 501 for one it does not, 420 for a required
// extension, 481 for a CANCEL of nothing.
func TestIncomingRequests(t *testing.T) {
	s := startSite(t, "site1.test", nil)
	opts := fastOptions(s.account("site1", TransportUDP, "1001"))
	opts.UserAgent = "TandemTest"
	e, _ := startEndpoint(t, opts)

	ua, err := sipgo.NewUA(sipgo.WithUserAgent("tester"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}

	for _, transport := range []string{TransportUDP, TransportTCP} {
		addr := e.Addr(transport).String()
		send := func(method sip.RequestMethod, extra ...sip.Header) *sip.Response {
			t.Helper()
			u := sip.Uri{Scheme: "sip", User: "1001", Host: "127.0.0.1"}
			req := sip.NewRequest(method, u)
			req.SetDestination(addr)
			req.SetTransport(sip.NetworkToUpper(transport))
			for _, h := range extra {
				req.AppendHeader(h)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			res, err := client.Do(ctx, req)
			if err != nil {
				t.Fatalf("%s %s: %v", transport, method, err)
			}
			return res
		}

		res := send(sip.OPTIONS)
		if res.StatusCode != 200 || !strings.Contains(hdr(res, "Allow"), "OPTIONS") ||
			hdr(res, "Accept") != "application/sdp" || hdr(res, "Server") != "TandemTest" {
			t.Errorf("%s OPTIONS: %s", transport, res)
		}
		if res := send(sip.MESSAGE); res.StatusCode != 405 || !strings.Contains(hdr(res, "Allow"), "OPTIONS") {
			t.Errorf("%s MESSAGE: %s", transport, res.StartLine())
		}
		if res := send(sip.RequestMethod("FROB")); res.StatusCode != 501 {
			t.Errorf("%s FROB: %s", transport, res.StartLine())
		}
		if res := send(sip.OPTIONS, sip.NewHeader("Require", "foo, 100rel")); res.StatusCode != 420 || hdr(res, "Unsupported") != "foo, 100rel" {
			t.Errorf("%s OPTIONS with Require: %s", transport, res)
		}
		if res := send(sip.CANCEL); res.StatusCode != 481 {
			t.Errorf("%s stray CANCEL: %s", transport, res.StartLine())
		}
	}
}

func hdr(res *sip.Response, name string) string {
	if h := res.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}
