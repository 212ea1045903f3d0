package sipua

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/media/sdp"
)

// kamailioProxyConfig is a registrar that routes calls as a site's SIP
// Server would: new INVITEs must authenticate (407), are record-routed and
// relayed to the callee's registered contact; requests within a dialog
// follow its route set.
func kamailioProxyConfig(port int) string {
	var pw strings.Builder
	for user, password := range testPasswords {
		fmt.Fprintf(&pw, "  if ($au == %q) { $var(pw) = %q; }\n", user, password)
	}
	return fmt.Sprintf(`#!KAMAILIO
debug=2
log_stderror=yes
children=2
tcp_children=2
auto_aliases=no
listen=udp:127.0.0.1:%[1]d
listen=tcp:127.0.0.1:%[1]d
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "auth.so"
modparam("usrloc", "db_mode", 0)
modparam("registrar", "min_expires", 1)
modparam("auth", "algorithm", "MD5")
modparam("auth", "qop", "auth")
request_route {
  if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
  if (is_method("OPTIONS") && $rU == $null) { sl_send_reply("200", "OK"); exit; }
  if (has_totag()) {
    if (loose_route()) { t_relay(); exit; }
    if (is_method("ACK")) { if (t_check_trans()) { t_relay(); } exit; }
    sl_send_reply("404", "Not Here");
    exit;
  }
  if (is_method("CANCEL")) { if (t_check_trans()) { t_relay(); } exit; }
  t_check_trans();
  $var(pw) = "";
%[2]s  if (is_method("REGISTER")) {
    if (!pv_www_authenticate("$td", "$var(pw)", "0")) { www_challenge("$td", "0"); exit; }
    if ($au != $tU) { sl_send_reply("403", "Forbidden"); exit; }
    consume_credentials();
    if (!save("location")) { sl_reply_error(); }
    exit;
  }
  if (is_method("INVITE")) {
    if (!pv_proxy_authenticate("$fd", "$var(pw)", "0")) { proxy_challenge("$fd", "0"); exit; }
    if ($au != $fU) { sl_send_reply("403", "Forbidden"); exit; }
    consume_credentials();
    record_route();
  }
  if (!lookup("location")) { sl_send_reply("404", "Not Found"); exit; }
  t_relay();
}
`, port, pw.String())
}

// Two kamailio instances as the two sites' SIP Servers (BC-2): both
// endpoints register with both, then call each other through each site,
// over UDP at one and TCP at the other. The INVITE is challenged (407) and
// answered with the account's credentials; hold and hang-up follow the
// record-routed path; an unknown number fails as not found.
func TestKamailioCalls(t *testing.T) {
	k1 := startKamailioWith(t, "site1.test", kamailioProxyConfig)
	k2 := startKamailioWith(t, "site2.test", kamailioProxyConfig)
	accounts := func(user string) []Account {
		return []Account{k1.account("site1", TransportUDP, user), k2.account("site2", TransportTCP, user)}
	}
	a := newPhone(t, nil, "1001", phoneOptions{accts: accounts("1001"), said: chirp(300, 3000, time.Second)})
	b := newPhone(t, nil, "2001", phoneOptions{accts: accounts("2001"), said: chirp(3000, 300, time.Second)})

	// Through site 1, the default: the first registered account.
	ab := a.dial("2001")
	ba := b.incoming()
	if i := ba.Info(); i.Site != "site1" || !strings.Contains(i.PeerURI, "1001@site1.test") {
		t.Errorf("call via site 1 arrives as %s from %s", i.Site, i.PeerURI)
	}
	if err := ba.Answer(); err != nil {
		t.Fatal(err)
	}
	waitCallState(t, ab, CallConnected)
	ab.mu.Lock()
	routes := ab.dlg.RouteSet
	ab.mu.Unlock()
	if len(routes) != 1 || !strings.Contains(routes[0], k1.addr) {
		t.Errorf("route set %v, want kamailio %s", routes, k1.addr)
	}
	time.Sleep(1300 * time.Millisecond)
	if err := ab.Hold(); err != nil {
		t.Fatal(err)
	}
	waitCall(t, ba, "held through the proxy", func(i CallInfo) bool { return i.RemoteHold && i.Media.Direction == sdp.RecvOnly })
	if err := ab.Hangup(); err != nil {
		t.Fatal(err)
	}
	waitEnded(t, ba, EndRemoteHangup)
	waitEnded(t, ab, EndLocalHangup)
	if r := correlation(a.said, b.heard()); r < 0.8 {
		t.Errorf("audio through site 1: correlation %.2f", r)
	}

	// Through site 2, over TCP; the callee hangs up.
	ab, err := a.ep.Dial("2001", DialOptions{Site: "site2"})
	if err != nil {
		t.Fatal(err)
	}
	ba = b.incoming()
	if i := ba.Info(); i.Site != "site2" || !strings.Contains(i.PeerURI, "1001@site2.test") {
		t.Errorf("call via site 2 arrives as %s from %s", i.Site, i.PeerURI)
	}
	if err := ba.Answer(); err != nil {
		t.Fatal(err)
	}
	waitCallState(t, ab, CallConnected)
	eventually(t, "media via site 2", func() bool { return packetsIn(ab) > 5 && packetsIn(ba) > 5 })
	if err := ba.Hangup(); err != nil {
		t.Fatal(err)
	}
	waitEnded(t, ab, EndRemoteHangup)
	waitEnded(t, ba, EndLocalHangup)

	// No such number.
	if i := waitEnded(t, a.dial("9999"), EndNotFound); i.Code != 404 {
		t.Errorf("unknown number: %d %q", i.Code, i.Reason)
	}
}

// A wrong password for calls: the INVITE is challenged again, and the
// call fails with that 407 instead of looping.
func TestKamailioCallWrongPassword(t *testing.T) {
	k := startKamailioWith(t, "site1.test", kamailioProxyConfig)
	b := newPhone(t, nil, "2001", phoneOptions{accts: []Account{k.account("site1", TransportUDP, "2001")}})
	a := newPhone(t, nil, "1001", phoneOptions{accts: []Account{k.account("site1", TransportUDP, "1001")}})
	a.ep.regs[0].acct.Password = "wrong" // registered already; only the calls use it now
	c := a.dial("2001")
	if i := waitEnded(t, c, EndFailed); i.Code != 407 {
		t.Errorf("wrong password: %d %q", i.Code, i.Reason)
	}
	if n := len(b.ep.Calls()); n != 0 {
		t.Errorf("the callee saw %d calls", n)
	}
}
