package sipua

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// tortureDir is where sipgo's module keeps the RFC 4475 torture messages.
func tortureDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/emiago/sipgo").Output()
	if err != nil {
		t.Fatalf("locate sipgo: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "sip", "testdata", "torture")
}

// topVia matches the sent-by of the first Via header (long or compact form).
var topVia = regexp.MustCompile(`(?im)^(via|v)[ \t]*:[ \t]*SIP[ \t]*/[ \t]*2\.0[ \t]*/[ \t]*([A-Za-z]+)[ \t]+([^;, \t\r\n]+)`)

// loopbackVia points the message's top Via at the sender over transport, so
// that every answer stays on loopback whatever host the torture message names.
func loopbackVia(msg []byte, transport, sender string) []byte {
	done := false
	return topVia.ReplaceAllFunc(msg, func(m []byte) []byte {
		if done {
			return m
		}
		done = true
		sub := topVia.FindSubmatch(m)
		return []byte(string(sub[1]) + ": SIP/2.0/" + transport + " " + sender + ";rport")
	})
}

// endpointMayAccept are messages sipgo files as invalid that RFC 4475 lets
// an endpoint (not a proxy) accept: Max-Forwards 0 on a request for this UAS
// ("zeromf": process it as if the value were positive), and a bare "z9hG4bK"
// branch ("badbranch": may be treated as an RFC 2543 transaction).
var endpointMayAccept = map[string]bool{"zeromf.dat": true, "badbranch.dat": true}

// The RFC 4475 torture messages sent at a running endpoint: the valid ones
// are answered, the invalid ones are refused or ignored, and the endpoint is
// never hurt (it still answers OPTIONS afterwards).
func TestTortureMessages(t *testing.T) {
	s := startSite(t, "site1.test", nil)
	e, _ := startEndpoint(t, fastOptions(s.account("site1", TransportUDP, "1001")))
	target := e.Addr(TransportUDP).(*net.UDPAddr)
	dir := tortureDir(t)

	// send sends msg and collects the answers for a while. Messages larger
	// than a UDP datagram should be (longreq.dat) go over TCP, as RFC 3261
	// §18.1.1 has a UA do: sipgo will not send their answers over UDP.
	send := func(t *testing.T, msg []byte, wait time.Duration) [][]byte {
		t.Helper()
		if len(msg) > 1300 {
			return sendTCP(t, e.Addr(TransportTCP).String(), msg, wait)
		}
		conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		msg = loopbackVia(msg, "UDP", conn.LocalAddr().String())
		if _, err := conn.WriteToUDP(msg, target); err != nil {
			t.Fatal(err)
		}
		var answers [][]byte
		buf := make([]byte, 65535)
		deadline := time.Now().Add(wait)
		for {
			conn.SetReadDeadline(deadline)
			n, _, err := conn.ReadFromUDP(buf)
			if err != nil {
				return answers
			}
			answers = append(answers, append([]byte(nil), buf[:n]...))
			// Once answered, wait only briefly for a second response.
			if soon := time.Now().Add(200 * time.Millisecond); soon.Before(deadline) {
				deadline = soon
			}
		}
	}

	for _, kind := range []string{"valid", "invalid"} {
		files, err := filepath.Glob(filepath.Join(dir, kind, "*.dat"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no torture messages in %s: %v", dir, err)
		}
		for _, f := range files {
			t.Run(kind+"/"+filepath.Base(f), func(t *testing.T) {
				msg, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.HasPrefix(msg, []byte("SIP/2.0")) && kind == "valid" {
					answers := send(t, msg, 2*time.Second)
					if len(answers) == 0 {
						t.Errorf("valid request not answered")
					}
					for _, a := range answers {
						if !bytes.HasPrefix(a, []byte("SIP/2.0 ")) {
							t.Errorf("not a response: %q", a[:min(len(a), 40)])
						}
					}
					return
				}
				for _, a := range send(t, msg, 300*time.Millisecond) {
					if endpointMayAccept[filepath.Base(f)] {
						continue
					}
					if !bytes.HasPrefix(a, []byte("SIP/2.0 4")) && !bytes.HasPrefix(a, []byte("SIP/2.0 5")) && !bytes.HasPrefix(a, []byte("SIP/2.0 1")) {
						t.Errorf("invalid message answered with %q", a[:min(len(a), 40)])
					}
				}
			})
		}
	}

	// Still alive and well.
	opts := "OPTIONS sip:1001@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bK-alive\r\nMax-Forwards: 70\r\n" +
		"From: <sip:tester@127.0.0.1>;tag=1\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: alive@test\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
	answers := send(t, []byte(opts), 2*time.Second)
	if len(answers) == 0 || !bytes.HasPrefix(answers[0], []byte("SIP/2.0 200")) {
		t.Fatalf("endpoint no longer answers OPTIONS after the torture run: %q", answers)
	}
	if _, err := e.Registration("site1"); err != nil {
		t.Fatal(err)
	}
}

// sendTCP sends msg on a new TCP connection and returns the responses that
// arrive on it within wait.
func sendTCP(t *testing.T, addr string, msg []byte, wait time.Duration) [][]byte {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(loopbackVia(msg, "TCP", conn.LocalAddr().String())); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(wait))
	var all []byte
	buf := make([]byte, 65535)
	for {
		n, err := conn.Read(buf)
		all = append(all, buf[:n]...)
		if err != nil {
			break
		}
	}
	var answers [][]byte
	for _, part := range bytes.SplitAfter(all, []byte("\r\n\r\n")) {
		if len(bytes.TrimSpace(part)) > 0 {
			answers = append(answers, part)
		}
	}
	return answers
}
