package sipproxy

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/tandem-softphone/tandem/internal/testutil"
	"github.com/tandem-softphone/tandem/sitesim/registrar"
)

func TestMain(m *testing.M) {
	// sipgo logs through the default logger.
	if os.Getenv("SIPPROXY_TEST_LOG") == "" {
		slog.SetDefault(testutil.Quiet())
	}
	os.Exit(m.Run())
}

// site is a proxy on a registrar's sockets, as a simulated site runs it.
type site struct {
	reg    *registrar.Registrar
	events *testutil.Recorder[CallEvent]
}

// startSite runs a proxy with router on loopback UDP and TCP.
func startSite(t *testing.T, router RouterFunc) *site {
	t.Helper()
	s := &site{events: testutil.NewRecorder[CallEvent]()}
	p, err := New(Options{Router: router, OnCall: s.events.Add, Logger: testutil.Quiet()})
	if err != nil {
		t.Fatal(err)
	}
	s.reg, err = registrar.New(registrar.Options{
		Password: func(string) (string, bool) { return "", false },
		UDPAddr:  "127.0.0.1:0",
		TCPAddr:  "127.0.0.1:0",
		Logger:   testutil.Quiet(),
		Extend:   p.Extend,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.reg.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.reg.Close() })
	return s
}

// uri is the site's address for a number over transport "udp" or "tcp".
func (s *site) uri(user, transport string) sip.Uri {
	u := sip.Uri{Scheme: "sip", User: user, Host: "127.0.0.1", Port: s.reg.UDPAddr().Port}
	if transport == "tcp" {
		u.Port = s.reg.TCPAddr().Port
		u.UriParams = sip.NewParams()
		u.UriParams.Add("transport", "tcp")
	}
	return u
}

// endpoint is a plain sipgo user agent on a UDP and a TCP port of its own.
type endpoint struct {
	t       *testing.T
	udpAddr *net.UDPAddr
	tcpAddr *net.TCPAddr
	client  *sipgo.Client
	dialog  *sipgo.DialogUA // over UDP
	tcp     *sipgo.DialogUA // over TCP

	// answer handles an initial INVITE; nil answers 200 at once.
	answer func(s *sipgo.DialogServerSession) error

	mu       sync.Mutex
	servers  map[string]*sipgo.DialogServerSession
	clients  map[string]*sipgo.DialogClientSession
	invites  *testutil.Recorder[*sip.Request] // initial ones
	inDialog *testutil.Recorder[*sip.Request] // re-INVITE, REFER, NOTIFY, INFO
	byes     *testutil.Recorder[string]       // dialog IDs
	answered *testutil.Recorder[error]        // what the answer gave
}

// newEndpoint starts an endpoint whose answer to initial INVITEs is answer
// (nil: 200 at once).
func newEndpoint(t *testing.T, answer func(s *sipgo.DialogServerSession) error) *endpoint {
	t.Helper()
	e := &endpoint{
		t:        t,
		answer:   answer,
		servers:  map[string]*sipgo.DialogServerSession{},
		clients:  map[string]*sipgo.DialogClientSession{},
		invites:  testutil.NewRecorder[*sip.Request](),
		inDialog: testutil.NewRecorder[*sip.Request](),
		byes:     testutil.NewRecorder[string](),
		answered: testutil.NewRecorder[error](),
	}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("test-endpoint"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.udpAddr, e.tcpAddr = pc.LocalAddr().(*net.UDPAddr), ln.Addr().(*net.TCPAddr)
	e.client, err = sipgo.NewClient(ua, sipgo.WithClientAddr(e.udpAddr.String()), sipgo.WithClientConnectionAddr(e.udpAddr.String()))
	if err != nil {
		t.Fatal(err)
	}
	e.dialog = &sipgo.DialogUA{Client: e.client, ContactHDR: sip.ContactHeader{
		Address: sip.Uri{Scheme: "sip", User: "ep", Host: "127.0.0.1", Port: e.udpAddr.Port},
	}}
	tcpClient, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	tcpContact := sip.Uri{Scheme: "sip", User: "ep", Host: "127.0.0.1", Port: e.tcpAddr.Port, UriParams: sip.NewParams()}
	tcpContact.UriParams.Add("transport", "tcp")
	e.tcp = &sipgo.DialogUA{Client: tcpClient, ContactHDR: sip.ContactHeader{Address: tcpContact}}
	srv.OnInvite(e.onInvite)
	srv.OnAck(e.onAck)
	srv.OnBye(e.onBye)
	for _, m := range []sip.RequestMethod{sip.REFER, sip.NOTIFY, sip.INFO} {
		srv.OnRequest(m, e.onInDialog)
	}
	var wg sync.WaitGroup
	wg.Go(func() { srv.ServeUDP(pc) })
	wg.Go(func() { srv.ServeTCP(ln) })
	t.Cleanup(func() {
		ua.Close()
		pc.Close()
		ln.Close()
		wg.Wait()
	})
	// Requests leave from the listening socket: wait until sipgo has it.
	testutil.Eventually(t, "endpoint serving", func() bool {
		c, err := ua.TransportLayer().GetConnection("udp", e.udpAddr.String())
		if err != nil {
			return false
		}
		c.TryClose()
		return true
	})
	return e
}

// target is the endpoint's address as a Target for transport "UDP" or "TCP".
func (e *endpoint) target(user, transport string) Target {
	u := sip.Uri{Scheme: "sip", User: user, Host: "127.0.0.1", Port: e.udpAddr.Port}
	if transport == "TCP" {
		u.Port = e.tcpAddr.Port
		u.UriParams = sip.NewParams()
		u.UriParams.Add("transport", "tcp")
	}
	return Target{URI: u, Transport: transport}
}

// onInDialog answers 200 to any other request (and a re-INVITE).
func (e *endpoint) onInDialog(req *sip.Request, tx sip.ServerTransaction) {
	e.inDialog.Add(req)
	tx.Respond(sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil))
}

func (e *endpoint) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if req.To().Params.Has("tag") {
		e.onInDialog(req, tx)
		return
	}
	e.invites.Add(req)
	s, err := e.dialog.ReadInvite(req, tx)
	if err != nil {
		e.answered.Add(err)
		return
	}
	e.mu.Lock()
	e.servers[s.ID] = s
	e.mu.Unlock()
	if e.answer != nil {
		e.answered.Add(e.answer(s))
		return
	}
	e.answered.Add(s.RespondSDP([]byte("v=0\r\n")))
}

func (e *endpoint) onAck(req *sip.Request, tx sip.ServerTransaction) {
	id, _ := sip.DialogIDFromRequestUAS(req)
	e.mu.Lock()
	s := e.servers[id]
	e.mu.Unlock()
	if s != nil {
		s.ReadAck(req, tx)
	}
}

func (e *endpoint) onBye(req *sip.Request, tx sip.ServerTransaction) {
	uas, _ := sip.DialogIDFromRequestUAS(req)
	uac, _ := sip.DialogIDFromRequestUAC(req)
	e.mu.Lock()
	s, c := e.servers[uas], e.clients[uac]
	e.mu.Unlock()
	switch {
	case s != nil:
		s.ReadBye(req, tx)
		e.byes.Add(uas)
	case c != nil:
		c.ReadBye(req, tx)
		e.byes.Add(uac)
	default:
		tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "No Such Dialog", nil))
	}
}

// call sends an INVITE to uri and waits for the answer; the dialog is
// returned with WaitAnswer's error. The transport is uri's.
func (e *endpoint) call(ctx context.Context, uri sip.Uri) (*sipgo.DialogClientSession, error) {
	e.t.Helper()
	d := e.dialog
	if tp, _ := uri.UriParams.Get("transport"); tp == "tcp" {
		d = e.tcp
	}
	s, err := d.Invite(testutil.Context(e.t), uri, []byte("v=0\r\n"), sip.NewHeader("Content-Type", "application/sdp"))
	if err != nil {
		e.t.Fatalf("INVITE %s: %v", uri.String(), err)
	}
	err = s.WaitAnswer(ctx, sipgo.AnswerOptions{})
	if err == nil {
		e.mu.Lock()
		e.clients[s.ID] = s
		e.mu.Unlock()
	}
	return s, err
}

// status is the status of a failed WaitAnswer, 0 if it failed otherwise.
func status(err error) int {
	var de *sipgo.ErrDialogResponse
	if errors.As(err, &de) {
		return de.Res.StatusCode
	}
	return 0
}

// raw is a UDP socket that speaks SIP by hand, for peers that misbehave.
type raw struct {
	t    *testing.T
	conn *net.UDPConn
}

func newRaw(t *testing.T) *raw {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &raw{t: t, conn: c}
}

func (r *raw) port() int { return r.conn.LocalAddr().(*net.UDPAddr).Port }

// read waits for a request of that method, skipping others.
func (r *raw) read(method sip.RequestMethod) (*sip.Request, *net.UDPAddr) {
	r.t.Helper()
	buf := make([]byte, 65535)
	r.conn.SetReadDeadline(time.Now().Add(testutil.Wait))
	for {
		n, from, err := r.conn.ReadFromUDP(buf)
		if err != nil {
			r.t.Fatalf("waiting for %s: %v", method, err)
		}
		msg, err := sip.ParseMessage(buf[:n])
		if err != nil {
			r.t.Fatalf("parse: %v", err)
		}
		if req, ok := msg.(*sip.Request); ok && req.Method == method {
			return req, from
		}
	}
}

// respond answers req with status; toTag is the callee's tag.
func (r *raw) respond(req *sip.Request, to *net.UDPAddr, status int, toTag string, body string) {
	r.t.Helper()
	res := sip.NewResponseFromRequest(req, status, "Status "+strconv.Itoa(status), nil)
	if toTag != "" {
		res.To().Params.Add("tag", toTag)
	}
	res.AppendHeader(sip.NewHeader("Contact", "<sip:raw@127.0.0.1:"+strconv.Itoa(r.port())+">"))
	if body != "" {
		res.SetBody([]byte(body))
	}
	if _, err := r.conn.WriteToUDP([]byte(res.String()), to); err != nil {
		r.t.Fatal(err)
	}
}
