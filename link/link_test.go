package link

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/internal/testutil"
	"github.com/tandem-softphone/tandem/wire"
)

// echoServer answers every request with "Echo" carrying the same attributes,
// refuses "Fail", and sends an event when asked with "Notify".
func echoServer(t *testing.T, opts ServerOptions) *Server {
	t.Helper()
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	opts.Link.Handler = func(c *Conn, m wire.Message) {
		switch m.Name {
		case "Fail":
			c.Send(ErrorAnswer(m, wire.ErrCodeInvalidState, "no"))
		case "Notify":
			c.Send(wire.Message{Name: "Event", Attrs: m.Attrs})
			c.Send(wire.Message{Name: "Echo", RefID: m.RefID})
		default:
			c.Send(wire.Message{Name: "Echo", RefID: m.RefID, Attrs: m.Attrs})
		}
	}
	s, err := Listen(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestRequestAnswerAndEvents(t *testing.T) {
	s := echoServer(t, ServerOptions{Link: Options{AppName: "srv"}, Info: func() wire.KVList {
		return wire.KVList{}.Add(wire.AttrServerRole, "primary")
	}})
	events := make(chan wire.Message, 1)
	c, err := Dial(testutil.Context(t), s.Addr(), Options{AppName: "cli", Handler: func(_ *Conn, m wire.Message) { events <- m }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if p := c.Peer(); p.AppName != "srv" || p.Role != "primary" || p.Version != wire.Version {
		t.Fatalf("peer %+v", p)
	}
	ans, err := c.Request(testutil.Context(t), wire.Message{Name: "Hello", Attrs: wire.KVList{}.Add("k", "v")})
	if err != nil || ans.Attrs.String("k") != "v" {
		t.Fatalf("answer %v err %v", ans, err)
	}
	_, err = c.Request(testutil.Context(t), wire.Message{Name: "Fail"})
	var re *RemoteError
	if !errors.As(err, &re) || re.Code != wire.ErrCodeInvalidState {
		t.Fatalf("want RemoteError, got %v", err)
	}
	if _, err := c.Request(testutil.Context(t), wire.Message{Name: "Notify", Attrs: wire.KVList{}.Add("n", 1)}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-events:
		if n, _ := ev.Attrs.Int("n"); ev.Name != "Event" || n != 1 {
			t.Fatalf("event %v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
}

func TestConcurrentRequests(t *testing.T) {
	s := echoServer(t, ServerOptions{})
	c, err := Dial(testutil.Context(t), s.Addr(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			ans, err := c.Request(testutil.Context(t), wire.Message{Name: "Q", Attrs: wire.KVList{}.Add("i", i)})
			if got, _ := ans.Attrs.Int("i"); err != nil || got != int64(i) {
				t.Errorf("request %d: got %d err %v", i, got, err)
			}
		})
	}
	wg.Wait()
}

func TestRequestTimeout(t *testing.T) {
	s := echoServer(t, ServerOptions{})
	c, err := Dial(testutil.Context(t), s.Addr(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s.SetMode(Blackhole)
	short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = c.Request(short, wire.Message{Name: "Q"})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "Q: no answer") {
		t.Fatalf("want a clear timeout, got %v", err)
	}
}

func TestVersionRefused(t *testing.T) {
	s := echoServer(t, ServerOptions{})
	nc, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	frame, _ := wire.Append(nil, wire.Message{Name: wire.RequestRegisterClient, RefID: 1, Attrs: wire.KVList{}.Add(wire.AttrProtocolVersion, 99)})
	nc.Write(frame)
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	ans, err := wire.ReadFrame(nc)
	if err != nil || ans.Name != wire.EventError {
		t.Fatalf("want EventError, got %v %v", ans, err)
	}
}

// BC-5: a peer that stops answering is noticed by keep-alive within its timeout.
func TestKeepAliveDetectsBlackhole(t *testing.T) {
	s := echoServer(t, ServerOptions{})
	const T = 300 * time.Millisecond
	c, err := Dial(testutil.Context(t), s.Addr(), Options{KeepAlive: T})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// An idle but healthy link stays up across several timeouts.
	select {
	case <-c.Done():
		t.Fatalf("healthy link dropped: %v", c.Err())
	case <-time.After(4 * T):
	}
	s.SetMode(Blackhole)
	start := time.Now()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("blackholed peer never detected")
	}
	if !errors.Is(c.Err(), ErrKeepAliveTimeout) {
		t.Fatalf("link ended with %v", c.Err())
	}
	if d := time.Since(start); d < T {
		t.Fatalf("declared lost after %v, before one timeout of %v", d, T)
	}
}

// The server side polls with the timeout the client asked for.
func TestServerUsesRemoteTimeout(t *testing.T) {
	got := make(chan *Conn, 1)
	s := echoServer(t, ServerOptions{Link: Options{KeepAlive: time.Hour}, OnConn: func(c *Conn) { got <- c }})
	nc, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// A client that asks for 200 ms and then goes silent.
	frame, _ := wire.Append(nil, wire.Message{Name: wire.RequestRegisterClient, RefID: 1, Attrs: wire.KVList{}.
		Add(wire.AttrProtocolVersion, wire.Version).Add(wire.AttrAddpRemoteTimeout, 200)})
	nc.Write(frame)
	sc := <-got
	select {
	case <-sc.Done():
		if !errors.Is(sc.Err(), ErrKeepAliveTimeout) {
			t.Fatalf("server side ended with %v", sc.Err())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server never noticed the silent client")
	}
}

// A hostile frame closes that connection with a logged error, and nothing else.
func TestHostileFrameClosesLink(t *testing.T) {
	var logbuf testutil.SyncBuffer
	logger := slog.New(slog.NewTextHandler(&logbuf, nil))
	s := echoServer(t, ServerOptions{Link: Options{Logger: logger}})
	good, err := Dial(testutil.Context(t), s.Addr(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	for _, junk := range [][]byte{
		[]byte("GET / HTTP/1.1\r\n\r\n"),
		{'T', 'D', 1, 0, 0xFF, 0xFF, 0xFF, 0xFF},
	} {
		nc, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		hello, _ := wire.Append(nil, wire.Message{Name: wire.RequestRegisterClient, RefID: 1, Attrs: wire.KVList{}.Add(wire.AttrProtocolVersion, wire.Version)})
		nc.Write(hello)
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := wire.ReadFrame(nc); err != nil {
			t.Fatal(err)
		}
		nc.Write(junk)
		if _, err := wire.ReadFrame(nc); err == nil {
			t.Fatal("link still answering after a hostile frame")
		}
		nc.Close()
	}
	if !strings.Contains(logbuf.String(), "bad frame from peer") {
		t.Fatalf("no error logged: %s", logbuf.String())
	}
	if _, err := good.Request(testutil.Context(t), wire.Message{Name: "Q"}); err != nil {
		t.Fatalf("other link hurt: %v", err)
	}
}

func TestTLS(t *testing.T) {
	cert, pool := testutil.SelfSigned(t, "tserver.test")
	s := echoServer(t, ServerOptions{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}})
	c, err := Dial(testutil.Context(t), s.Addr(), Options{TLS: &tls.Config{RootCAs: pool, ServerName: "tserver.test"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Request(testutil.Context(t), wire.Message{Name: "Q"}); err != nil {
		t.Fatal(err)
	}
	// The wrong name is refused.
	if _, err := Dial(testutil.Context(t), s.Addr(), Options{TLS: &tls.Config{RootCAs: pool, ServerName: "other.test"}}); err == nil {
		t.Fatal("certificate for another name accepted")
	}
}

func TestServerClosedThenUpSamePort(t *testing.T) {
	s := echoServer(t, ServerOptions{})
	addr := s.Addr()
	s.SetMode(Closed)
	if _, err := Dial(testutil.Context(t), addr, Options{}); err == nil {
		t.Fatal("connected to a closed server")
	}
	if err := s.SetMode(Up); err != nil {
		t.Fatal(err)
	}
	c, err := Dial(testutil.Context(t), addr, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Closed() {
		t.Fatal("a new link reports itself closed")
	}
	c.Close()
	if !c.Closed() {
		t.Fatal("a closed link reports itself open")
	}
	if _, err := c.Request(testutil.Context(t), wire.Message{Name: "Q"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("request on a closed link: %v", err)
	}
}

// BenchmarkRoundTrip is one request and its answer over a loopback link.
func BenchmarkRoundTrip(b *testing.B) {
	s, err := Listen(ServerOptions{Addr: "127.0.0.1:0", Link: Options{Handler: func(c *Conn, m wire.Message) {
		c.Send(wire.Message{Name: "Echo", RefID: m.RefID, Attrs: m.Attrs})
	}}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	c, err := Dial(context.Background(), s.Addr(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := wire.Message{Name: wire.RequestAgentReady, Attrs: wire.KVList{}.Add(wire.AttrThisDN, "5001").Add(wire.AttrAgentWorkMode, 1)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Request(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}
