package sitesim

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/tandem-softphone/tandem/internal/testutil"
	"github.com/tandem-softphone/tandem/media/rtpstream"
	"github.com/tandem-softphone/tandem/media/sdp"
)

// phone is an agent's SIP phone for the tests: a plain sipgo user agent on
// a UDP port of its own, registered with digest at the sites (BC-2), that
// answers (or only rings) and calls, with real G.711 audio through
// media/rtpstream. What it hears is kept in memory.
type phone struct {
	t      *testing.T
	addr   *net.UDPAddr
	client *sipgo.Client
	dialog *sipgo.DialogUA
	ring   bool // ring and never answer
	play   []int16

	mu       sync.Mutex
	calls    map[string]*phoneCall // by dialog ID
	incoming *testutil.Recorder[*phoneCall]
	invites  *testutil.Recorder[*sip.Request]
}

// phoneCall is one call of a phone.
type phoneCall struct {
	p      *phone
	server *sipgo.DialogServerSession // answered
	client *sipgo.DialogClientSession // placed
	stream *rtpstream.Stream
	stop   chan struct{}
	pumped chan struct{} // closed when run's goroutine ends
	ran    atomic.Bool
	once   sync.Once

	mu    sync.Mutex
	heard []int16
}

// newPhone starts a phone that plays play (then silence) in its calls.
func newPhone(t *testing.T, ring bool, play []int16) *phone {
	t.Helper()
	p := &phone{
		t: t, ring: ring, play: play,
		calls:    map[string]*phoneCall{},
		incoming: testutil.NewRecorder[*phoneCall](),
		invites:  testutil.NewRecorder[*sip.Request](),
	}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("test-phone"))
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
	p.addr = pc.LocalAddr().(*net.UDPAddr)
	p.client, err = sipgo.NewClient(ua, sipgo.WithClientAddr(p.addr.String()), sipgo.WithClientConnectionAddr(p.addr.String()))
	if err != nil {
		t.Fatal(err)
	}
	p.dialog = &sipgo.DialogUA{Client: p.client, ContactHDR: sip.ContactHeader{
		Address: sip.Uri{Scheme: "sip", User: "phone", Host: "127.0.0.1", Port: p.addr.Port},
	}}
	srv.OnInvite(p.onInvite)
	srv.OnAck(p.onAck)
	srv.OnBye(p.onBye)
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.ServeUDP(pc)
	}()
	t.Cleanup(func() {
		p.mu.Lock()
		calls := p.calls
		p.mu.Unlock()
		for _, c := range calls {
			c.end()
		}
		ua.Close()
		pc.Close()
		<-served
	})
	testutil.Eventually(t, "phone serving", func() bool {
		c, err := ua.TransportLayer().GetConnection("udp", p.addr.String())
		if err == nil {
			c.TryClose()
		}
		return err == nil
	})
	return p
}

// register binds dn to the phone at a site, with digest authentication.
func (p *phone) register(st *Site, dn string) {
	p.t.Helper()
	reg := st.Registrar().UDPAddr()
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: reg.Port})
	aor := sip.Uri{Scheme: "sip", User: dn, Host: "127.0.0.1"}
	from := &sip.FromHeader{Address: aor}
	from.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: aor})
	req.AppendHeader(sip.NewHeader("Contact", "<sip:"+dn+"@127.0.0.1:"+strconv.Itoa(p.addr.Port)+">"))
	req.AppendHeader(sip.NewHeader("Expires", "3600"))
	ctx := testutil.Context(p.t)
	res, err := p.client.Do(ctx, req)
	if err == nil && res.StatusCode == sip.StatusUnauthorized {
		res, err = p.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: dn, Password: DemoSIPPassword})
	}
	if err != nil || res.StatusCode != sip.StatusOK {
		p.t.Fatalf("REGISTER %s at site %d: %v %v", dn, st.Number(), res, err)
	}
	// The T-Server hears of it from the registrar's own goroutine.
	testutil.Eventually(p.t, dn+" in service", func() bool {
		for _, d := range st.Status().DNs {
			if d.DN == dn {
				return d.InService
			}
		}
		return false
	})
}

// newCall opens a call's RTP port. The phone's handlers report nothing to
// the test (they may run as it ends): the test sees what did not happen.
func (p *phone) newCall() (*phoneCall, error) {
	s, err := rtpstream.Open(rtpstream.Config{LocalAddr: netip.MustParseAddrPort("127.0.0.1:0"), NoRTPTimeout: -1, Logger: quiet})
	if err != nil {
		return nil, err
	}
	return &phoneCall{p: p, stream: s, stop: make(chan struct{}), pumped: make(chan struct{})}, nil
}

func (c *phoneCall) local() sdp.Local {
	return sdp.Local{Address: netip.MustParseAddr("127.0.0.1"), Port: int(c.stream.LocalAddr().Port()), Codecs: []sdp.Codec{sdp.PCMU}}
}

func (p *phone) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	p.invites.Add(req)
	s, err := p.dialog.ReadInvite(req, tx)
	if err != nil {
		return
	}
	if p.ring {
		s.Respond(sip.StatusRinging, "Ringing", nil)
		<-s.Context().Done()
		return
	}
	c, err := p.newCall()
	if err != nil {
		s.Respond(sip.StatusInternalServerError, "No RTP", nil)
		return
	}
	local := c.local()
	answer, media, err := sdp.Answer(&local, req.Body())
	if err != nil {
		s.Respond(sip.StatusNotAcceptableHere, "Not Acceptable Here", nil)
		c.stream.Close()
		return
	}
	c.server = s
	p.mu.Lock()
	p.calls[s.ID] = c
	p.mu.Unlock()
	s.Respond(sip.StatusRinging, "Ringing", nil)
	if err := s.RespondSDP(answer); err != nil {
		return
	}
	c.run(media)
	p.incoming.Add(c)
}

func (p *phone) onAck(req *sip.Request, tx sip.ServerTransaction) {
	id, _ := sip.DialogIDFromRequestUAS(req)
	p.mu.Lock()
	c := p.calls[id]
	p.mu.Unlock()
	if c != nil && c.server != nil {
		c.server.ReadAck(req, tx)
	}
}

func (p *phone) onBye(req *sip.Request, tx sip.ServerTransaction) {
	uas, _ := sip.DialogIDFromRequestUAS(req)
	uac, _ := sip.DialogIDFromRequestUAC(req)
	p.mu.Lock()
	c := p.calls[uas]
	if c == nil {
		c = p.calls[uac]
	}
	p.mu.Unlock()
	switch {
	case c == nil:
		tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "No Such Call", nil))
	case c.server != nil:
		c.server.ReadBye(req, tx)
	default:
		c.client.ReadBye(req, tx)
	}
}

// dial calls number through a site and returns the answered call, or
// the status of the refusal.
func (p *phone) dial(st *Site, from, number string) (*phoneCall, int) {
	p.t.Helper()
	c, err := p.newCall()
	if err != nil {
		p.t.Fatal(err)
	}
	local := c.local()
	offer, err := sdp.Offer(&local)
	if err != nil {
		p.t.Fatal(err)
	}
	reg := st.Registrar().UDPAddr()
	fromHdr := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: from, Host: "127.0.0.1"}}
	fromHdr.Params.Add("tag", sip.GenerateTagN(8))
	s, err := p.dialog.Invite(testutil.Context(p.t), sip.Uri{Scheme: "sip", User: number, Host: "127.0.0.1", Port: reg.Port},
		offer, fromHdr, sip.NewHeader("Content-Type", "application/sdp"))
	if err != nil {
		p.t.Fatalf("INVITE %s: %v", number, err)
	}
	if err := s.WaitAnswer(testutil.Context(p.t), sipgo.AnswerOptions{}); err != nil {
		c.stream.Close()
		var de *sipgo.ErrDialogResponse
		if errors.As(err, &de) {
			return nil, de.Res.StatusCode
		}
		p.t.Fatalf("call %s: %v", number, err)
	}
	media, err := sdp.ParseAnswer(&local, s.InviteResponse.Body())
	if err != nil {
		p.t.Fatalf("answer of %s: %v", number, err)
	}
	c.client = s
	p.mu.Lock()
	p.calls[s.ID] = c
	p.mu.Unlock()
	if err := s.Ack(testutil.Context(p.t)); err != nil {
		p.t.Fatal(err)
	}
	c.run(media)
	return c, sip.StatusOK
}

// run starts the call's media: play out p.play, keep what is heard, until
// the call ends.
func (c *phoneCall) run(m sdp.Media) {
	if c.stream.Start(m) != nil {
		return
	}
	dialog := c.dialogContext()
	c.ran.Store(true)
	go func() {
		defer close(c.pumped)
		const rate = 8000
		samples := func(d time.Duration) int { return int(d * rate / time.Second) }
		lead, lag := samples(50*time.Millisecond), samples(70*time.Millisecond)
		start := time.Now()
		var written, read int
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			now := samples(time.Since(start))
			if n := now - lag - read; n > 0 {
				buf := make([]int16, n)
				c.stream.Read(buf)
				c.mu.Lock()
				c.heard = append(c.heard, buf...)
				c.mu.Unlock()
				read += n
			}
			if n := now + lead - written; n > 0 {
				out := make([]int16, n)
				if written < len(c.p.play) {
					copy(out, c.p.play[written:])
				}
				c.stream.Write(out)
				written += n
			}
			select {
			case <-c.stop:
				return
			case <-dialog.Done():
				return
			case <-tick.C:
			}
		}
	}()
}

func (c *phoneCall) dialogContext() context.Context {
	if c.server != nil {
		return c.server.Context()
	}
	return c.client.Context()
}

// hangup sends a BYE.
func (c *phoneCall) hangup() {
	c.p.t.Helper()
	var err error
	if c.server != nil {
		err = c.server.Bye(testutil.Context(c.p.t))
	} else {
		err = c.client.Bye(testutil.Context(c.p.t))
	}
	if err != nil {
		c.p.t.Fatalf("BYE: %v", err)
	}
	c.end()
}

// ended waits until the far end hung up.
func (c *phoneCall) ended() {
	c.p.t.Helper()
	select {
	case <-c.dialogContext().Done():
	case <-time.After(testutil.Wait):
		c.p.t.Fatal("the far end did not hang up")
	}
	c.end()
}

// end stops the media.
func (c *phoneCall) end() {
	c.once.Do(func() {
		close(c.stop)
		if c.ran.Load() {
			<-c.pumped
		}
		c.stream.Close()
	})
}

// heardSoFar is what the phone heard in the call.
func (c *phoneCall) heardSoFar() []int16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int16(nil), c.heard...)
}
