package sipua

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// kamailio is a kamailio registrar on loopback (UDP and TCP on one port),
// with no database: the lab the NOTES describe for dual registration.
type kamailio struct {
	realm string
	addr  string // 127.0.0.1:port
}

// kamailioBinary finds kamailio, which lives in /usr/sbin. Without it the
// test is skipped, except in CI, where `make setup` must have installed it.
func kamailioBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("kamailio"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/kamailio"); err == nil {
		return "/usr/sbin/kamailio"
	}
	if os.Getenv("CI") == "" {
		t.Skip("kamailio is not installed (scripts/setup.sh installs it); skipping the kamailio interop test")
	}
	t.Fatal("kamailio is not installed but CI is set: run make setup")
	return ""
}

// kamailioConfig is a registrar with digest authentication by algorithm
// that relays MESSAGE to the registered contact, which shows that a
// registered Contact is reachable.
func kamailioConfig(port int, algorithm string) string {
	var pw strings.Builder
	for user, password := range testPasswords {
		fmt.Fprintf(&pw, "    if ($au == %q) { $var(pw) = %q; }\n", user, password)
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
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "auth.so"
modparam("usrloc", "db_mode", 0)
modparam("registrar", "min_expires", 1)
modparam("auth", "algorithm", %[2]q)
modparam("auth", "qop", "auth")
request_route {
  if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
  if (is_method("OPTIONS") && $rU == $null) { sl_send_reply("200", "OK"); exit; }
  if (is_method("REGISTER")) {
    $var(pw) = "";
%[3]s    if (!pv_www_authenticate("$td", "$var(pw)", "0")) { www_challenge("$td", "0"); exit; }
    if ($au != $tU) { sl_send_reply("403", "Forbidden"); exit; }
    consume_credentials();
    if (!save("location")) { sl_reply_error(); }
    exit;
  }
  if (is_method("MESSAGE")) {
    if (!lookup("location")) { sl_send_reply("404", "Not Found"); exit; }
    t_relay();
    exit;
  }
  sl_send_reply("405", "Method Not Allowed");
}
`, port, algorithm, pw.String())
}

// startKamailio runs one kamailio registrar until the test ends.
func startKamailio(t *testing.T, realm, algorithm string) *kamailio {
	t.Helper()
	return startKamailioWith(t, realm, func(port int) string { return kamailioConfig(port, algorithm) })
}

// startKamailioWith runs kamailio with the configuration config makes for
// its port, until the test ends.
func startKamailioWith(t *testing.T, realm string, config func(port int) string) *kamailio {
	t.Helper()
	bin := kamailioBinary(t)
	port := freeUDPAndTCPPort(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "kamailio.cfg")
	if err := os.WriteFile(cfg, []byte(config(port)), 0o644); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "kamailio.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-f", cfg, "-DD", "-E", "-P", filepath.Join(dir, "kamailio.pid"),
		"-w", dir, "-m", "32", "-M", "4")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group, so that stopping it stops its children too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start kamailio: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		logFile.Close()
		if t.Failed() {
			if log, err := os.ReadFile(logFile.Name()); err == nil {
				t.Logf("kamailio %s log:\n%s", realm, log)
			}
		}
	})
	k := &kamailio{realm: realm, addr: fmt.Sprintf("127.0.0.1:%d", port)}
	k.waitUp(t, exited)
	return k
}

// freeUDPAndTCPPort finds a loopback port free for both UDP and TCP.
func freeUDPAndTCPPort(t *testing.T) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", l.Addr().String())
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no port free for both UDP and TCP")
	return 0
}

// waitUp waits until kamailio answers OPTIONS.
func (k *kamailio) waitUp(t *testing.T, exited <-chan struct{}) {
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
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatal("kamailio exited at start")
		default:
		}
		req := sip.NewRequest(sip.OPTIONS, sip.Uri{Scheme: "sip", Host: "127.0.0.1"})
		req.SetDestination(k.addr)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		res, err := client.Do(ctx, req)
		cancel()
		if err == nil && res.StatusCode == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("kamailio at %s not answering: %v", k.addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// account returns an account of DN user at k over transport.
func (k *kamailio) account(site, transport, user string) Account {
	return Account{
		Site:      site,
		Registrar: k.addr,
		Transport: transport,
		Domain:    k.realm,
		User:      user,
		Password:  testPasswords[user],
		Expires:   60 * time.Second,
	}
}

// message sends a MESSAGE for user through k and returns the final answer.
func (k *kamailio) message(t *testing.T, client *sipgo.Client, user string) *sip.Response {
	t.Helper()
	req := sip.NewRequest(sip.MESSAGE, sip.Uri{Scheme: "sip", User: user, Host: k.realm})
	req.SetDestination(k.addr)
	req.AppendHeader(sip.NewHeader("Content-Type", "text/plain"))
	req.SetBody([]byte("hello"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := client.Do(ctx, req)
	if err != nil {
		t.Fatalf("MESSAGE to %s via %s: %v", user, k.realm, err)
	}
	return res
}

// BC-2 against real registrars: two kamailio instances, one per site, one
// with MD5 over UDP and one with SHA-256 over TCP; both bindings route
// requests to the endpoint, and Close removes both.
func TestKamailioDualRegistration(t *testing.T) {
	k1 := startKamailio(t, "site1.test", "MD5")
	k2 := startKamailio(t, "site2.test", "SHA-256")
	opts := fastOptions(k1.account("site1", TransportUDP, "1001"), k2.account("site2", TransportTCP, "2001"))
	opts.UserAgent = "TandemKamailioTest"
	e, rec := startEndpoint(t, opts)
	for _, site := range []string{"site1", "site2"} {
		reg := waitState(t, e, site, RegistrationRegistered, 5*time.Second)
		if left := time.Until(reg.ExpiresAt); left < 50*time.Second || left > 61*time.Second {
			t.Errorf("%s expires in %v, want about 60 s", site, left)
		}
	}

	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	// The endpoint does not serve MESSAGE: its own 405, relayed back by
	// kamailio, proves the request reached the registered contact.
	for _, tc := range []struct {
		k    *kamailio
		user string
	}{{k1, "1001"}, {k2, "2001"}} {
		res := tc.k.message(t, client, tc.user)
		if res.StatusCode != 405 || hdr(res, "Server") != opts.UserAgent {
			t.Errorf("MESSAGE via %s: %s (Server %q), want the endpoint's 405", tc.k.realm, res.StartLine(), hdr(res, "Server"))
		}
	}

	// Probes and a refresh keep both registered.
	time.Sleep(3 * opts.ProbeInterval)
	for _, site := range []string{"site1", "site2"} {
		if err := e.Reregister(site); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(3 * opts.ProbeInterval)
	for _, site := range []string{"site1", "site2"} {
		rec.waitStates(t, site, []RegistrationState{RegistrationRegistering, RegistrationRegistered}, 5*time.Second)
	}

	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		k    *kamailio
		user string
	}{{k1, "1001"}, {k2, "2001"}} {
		if res := tc.k.message(t, client, tc.user); res.StatusCode != 404 {
			t.Errorf("after Close, MESSAGE via %s: %s, want 404", tc.k.realm, res.StartLine())
		}
	}
}

// kamailio answers a wrong password with a fresh challenge, not 403: the
// account fails with that 401 instead of looping.
func TestKamailioWrongPassword(t *testing.T) {
	k := startKamailio(t, "site1.test", "SHA-256")
	a := k.account("site1", TransportUDP, "1001")
	a.Password = "wrong"
	e, _ := startEndpoint(t, fastOptions(a))
	reg := waitState(t, e, "site1", RegistrationFailed, 5*time.Second)
	if reg.Code != 401 {
		t.Fatalf("failed with %d %q, want 401", reg.Code, reg.Reason)
	}
}
