package sipproxy

import (
	"net/netip"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// FuzzRoute runs any message the SIP parser accepts through the routing
// of a forwarded request (Route entries, next hop, Via, Max-Forwards):
// never a crash, and a next hop is always a host:port over UDP or TCP.
// Seeds: testdata/fuzz/FuzzRoute.
func FuzzRoute(f *testing.F) {
	st := &stack{ip: netip.MustParseAddr("127.0.0.1"), udp: 5070, tcp: 5071}
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := sip.ParseMessage(data)
		if err != nil {
			return
		}
		req, ok := msg.(*sip.Request)
		if !ok {
			return
		}
		fwd := req.Clone()
		h, self, err := st.nextHop(fwd)
		if err != nil || self {
			return
		}
		if h.transport != "UDP" && h.transport != "TCP" || h.addr == "" {
			t.Fatalf("next hop %+v", h)
		}
		if err := st.prepare(fwd, "127.0.0.1:5999", h); err != nil {
			t.Fatalf("prepare: %v", err)
		}
		if fwd.Via() == nil || fwd.Via().Port != st.udp && fwd.Via().Port != st.tcp {
			t.Fatalf("forwarded with Via %v", fwd.Via())
		}
	})
}
