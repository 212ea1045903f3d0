// Package sipcall is the simulator's own SIP user agent, with real audio:
// the customers who call the agents (Dial) and the test numbers that
// agents call (NumberEcho answers and sends back what it hears, NumberTone
// answers and plays a tone, NumberBusy is always busy). Every call runs an
// RTP stream (media/rtpstream, G.711) paced by the wall clock; what a call
// receives may be recorded to a WAV file, so that tests can check what the
// far end sent (see Similarity).
package sipcall

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/tandem-softphone/tandem/media/sdp"
	"github.com/tandem-softphone/tandem/media/tone"
	"github.com/tandem-softphone/tandem/media/wav"
)

// The test numbers the UA answers.
const (
	NumberEcho = "9000" // answers and sends back what it hears
	NumberTone = "9001" // answers and plays Options.Tone
	NumberBusy = "9002" // always 486 Busy Here
)

// IsTestNumber reports whether n is one of the test numbers.
func IsTestNumber(n string) bool {
	return n == NumberEcho || n == NumberTone || n == NumberBusy
}

// DefaultTone is what NumberTone plays, and calls placed without audio:
// 1004 Hz, the usual test tone.
var DefaultTone = tone.Spec{Freqs: []float64{1004}, Level: 0.3}

// Errors of Dial and Hangup.
var (
	ErrInvalid     = errors.New("invalid call request")
	ErrUnknownCall = errors.New("no such call")
	ErrEnded       = errors.New("call already ended")
	ErrClosed      = errors.New("user agent closed")
)

// Options configure a UA.
type Options struct {
	// Addr is the UDP host:port to listen on (default 127.0.0.1:0).
	Addr string
	// User is the From user of the calls placed (default "customer").
	User string
	// Tone is what NumberTone and calls without audio play (default DefaultTone).
	Tone tone.Spec
	// KeepEnded bounds how many ended calls Calls still lists (default 100).
	KeepEnded int
	Logger    *slog.Logger
}

// UA is the simulator's user agent. Its methods are safe for concurrent use.
type UA struct {
	opts   Options
	log    *slog.Logger
	ua     *sipgo.UserAgent
	conn   net.PacketConn
	addr   netip.AddrPort
	dialog *sipgo.DialogUA
	served chan struct{}

	mu      sync.Mutex
	seq     int
	calls   []*call             // in the order they started
	dialogs map[dialogKey]*call // while the dialog lasts
	closed  bool
	running sync.WaitGroup // the calls' goroutines
}

// New starts a UA listening on Options.Addr.
func New(opts Options) (*UA, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.User == "" {
		opts.User = "customer"
	}
	if len(opts.Tone.Freqs) == 0 {
		opts.Tone = DefaultTone
	}
	if _, err := tone.New(sampleRate, opts.Tone); err != nil {
		return nil, fmt.Errorf("sipcall: tone: %w", err)
	}
	if opts.KeepEnded <= 0 {
		opts.KeepEnded = 100
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	u := &UA{
		opts:    opts,
		log:     opts.Logger.With("component", "sipcall"),
		dialogs: map[dialogKey]*call{},
		served:  make(chan struct{}),
	}
	conn, err := net.ListenPacket("udp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("sipcall: listen: %w", err)
	}
	u.conn = conn
	u.addr = conn.LocalAddr().(*net.UDPAddr).AddrPort()
	u.addr = netip.AddrPortFrom(u.addr.Addr().Unmap(), u.addr.Port())
	u.ua, err = sipgo.NewUA(
		sipgo.WithUserAgent("tandem-sitesim-ua"),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(u.log)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(u.log)),
	)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("sipcall: user agent: %w", err)
	}
	srv, err := sipgo.NewServer(u.ua, sipgo.WithServerLogger(u.log))
	if err != nil {
		u.ua.Close()
		conn.Close()
		return nil, fmt.Errorf("sipcall: server: %w", err)
	}
	client, err := sipgo.NewClient(u.ua, sipgo.WithClientLogger(u.log),
		sipgo.WithClientAddr(u.addr.String()), sipgo.WithClientConnectionAddr(u.addr.String()))
	if err != nil {
		u.ua.Close()
		conn.Close()
		return nil, fmt.Errorf("sipcall: client: %w", err)
	}
	u.dialog = &sipgo.DialogUA{Client: client, ContactHDR: sip.ContactHeader{
		Address: sip.Uri{Scheme: "sip", User: opts.User, Host: u.addr.Addr().String(), Port: int(u.addr.Port())},
	}}
	srv.OnInvite(u.onInvite)
	srv.OnAck(u.onAck)
	srv.OnBye(u.onBye)
	srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		respond(u.log, req, tx, sip.StatusOK, "OK")
	})
	go func() {
		defer close(u.served)
		if err := srv.ServeUDP(conn); err != nil && !errors.Is(err, net.ErrClosed) {
			u.log.Warn("serve udp", "err", err)
		}
	}()
	// Requests leave from the listening socket: wait until sipgo serves it.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if c, err := u.ua.TransportLayer().GetConnection("udp", u.addr.String()); err == nil {
			c.TryClose()
			break
		}
		if time.Now().After(deadline) {
			u.Close()
			return nil, errors.New("sipcall: the UDP socket was not served within 5 s")
		}
		time.Sleep(time.Millisecond)
	}
	u.log.Info("simulated user agent listening", "addr", u.addr)
	return u, nil
}

// Addr is where the UA receives SIP (UDP).
func (u *UA) Addr() netip.AddrPort { return u.addr }

// closeWait bounds how long Close waits for the calls to hang up.
const closeWait = 3 * time.Second

// Close hangs up every call and stops the UA.
func (u *UA) Close() error {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return nil
	}
	u.closed = true
	calls := slices.Clone(u.calls)
	u.mu.Unlock()
	for _, c := range calls {
		c.requestHangup()
	}
	// A call waiting for a site that never answers would hold Close up to
	// the transaction timeout: wait a bounded time.
	waited := make(chan struct{})
	go func() {
		u.running.Wait()
		close(waited)
	}()
	select {
	case <-waited:
	case <-time.After(closeWait):
		u.log.Warn("calls still ending when the user agent closed")
	}
	u.ua.Close()
	u.conn.Close()
	<-u.served
	return nil
}

// DialOptions describe a call to place.
type DialOptions struct {
	// To is the number called: the user part of the Request-URI.
	To string
	// Server is the host:port of the SIP server (a site) the INVITE goes to, over UDP.
	Server string
	// Audio is a WAV file (16-bit mono) to play once the call is answered,
	// then silence; "" plays Options.Tone.
	Audio string
	// Record is a WAV file to write what the call receives into (8 kHz).
	Record string
	// Duration hangs up this long after the answer; 0 waits for Hangup or
	// the far end.
	Duration time.Duration
}

// Dial places a call and returns at once, with the call's state so far.
func (u *UA) Dial(o DialOptions) (Info, error) {
	if !validNumber(o.To) {
		return Info{}, fmt.Errorf("%w: number %q", ErrInvalid, o.To)
	}
	host, portText, err := net.SplitHostPort(o.Server)
	port, perr := strconv.Atoi(portText)
	if err != nil || perr != nil || port <= 0 || port > 65535 || host == "" {
		return Info{}, fmt.Errorf("%w: server %q is not host:port", ErrInvalid, o.Server)
	}
	if o.Duration < 0 {
		return Info{}, fmt.Errorf("%w: negative duration %v", ErrInvalid, o.Duration)
	}
	var src source
	audioName := "tone"
	if o.Audio != "" {
		pcm, err := readAudio(o.Audio)
		if err != nil {
			return Info{}, fmt.Errorf("%w: audio: %w", ErrInvalid, err)
		}
		src, audioName = &pcmSource{pcm: pcm}, o.Audio
	} else {
		src = newToneSource(u.opts.Tone)
	}
	var rec *wav.Writer
	if o.Record != "" {
		if rec, err = wav.Create(o.Record, sampleRate); err != nil {
			return Info{}, fmt.Errorf("%w: record: %w", ErrInvalid, err)
		}
	}
	c, err := u.newCall(Info{
		Direction: DirectionOutbound,
		From:      u.opts.User,
		To:        o.To,
		Peer:      o.Server,
		Audio:     audioName,
		Record:    o.Record,
	}, src)
	if err != nil {
		if rec != nil {
			rec.Close()
		}
		return Info{}, err
	}
	c.rec = rec // before the call's goroutine starts: no lock needed
	uri := sip.Uri{Scheme: "sip", User: o.To, Host: host, Port: port}
	info := c.snapshot()
	go c.runOutbound(uri, o.Duration)
	return info, nil
}

// validNumber accepts what a dial pad and SIP user parts agree on.
func validNumber(n string) bool {
	if n == "" || len(n) > 64 {
		return false
	}
	for _, r := range n {
		switch {
		case r >= '0' && r <= '9', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r == '*' || r == '#' || r == '+' || r == '-' || r == '.' || r == '_':
		default:
			return false
		}
	}
	return true
}

// Hangup ends a call: BYE when answered, CANCEL while it rings.
func (u *UA) Hangup(id string) error {
	u.mu.Lock()
	c := u.find(id)
	u.mu.Unlock()
	if c == nil {
		return fmt.Errorf("call %s: %w", id, ErrUnknownCall)
	}
	if c.snapshot().State == StateEnded {
		return fmt.Errorf("call %s: %w", id, ErrEnded)
	}
	c.requestHangup()
	return nil
}

// Call returns one call's state.
func (u *UA) Call(id string) (Info, bool) {
	u.mu.Lock()
	c := u.find(id)
	u.mu.Unlock()
	if c == nil {
		return Info{}, false
	}
	return c.snapshot(), true
}

// Calls lists the calls, oldest first: every call not ended, and the last
// Options.KeepEnded ended ones.
func (u *UA) Calls() []Info {
	u.mu.Lock()
	calls := slices.Clone(u.calls)
	u.mu.Unlock()
	out := make([]Info, 0, len(calls))
	for _, c := range calls {
		out = append(out, c.snapshot())
	}
	return out
}

// find returns the call with that id; u.mu is held.
func (u *UA) find(id string) *call {
	for _, c := range u.calls {
		if c.id == id {
			return c
		}
	}
	return nil
}

// newCall registers a call; it fails once the UA is closed.
func (u *UA) newCall(info Info, src source) (*call, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return nil, ErrClosed
	}
	u.seq++
	info.ID = "c" + strconv.Itoa(u.seq)
	info.State = StateCalling
	info.Started = time.Now()
	c := &call{ua: u, id: info.ID, info: info, src: src, hangup: make(chan struct{}), done: make(chan struct{})}
	c.local = sdp.Local{Username: "sitesim", Address: u.addr.Addr(), Codecs: []sdp.Codec{sdp.PCMU, sdp.PCMA}}
	u.calls = append(u.calls, c)
	u.trim()
	u.running.Add(1)
	return c, nil
}

// trim forgets the oldest ended calls beyond KeepEnded; u.mu is held.
func (u *UA) trim() {
	ended := 0
	for _, c := range u.calls {
		if c.isDone() {
			ended++
		}
	}
	for i := 0; ended > u.opts.KeepEnded && i < len(u.calls); {
		if u.calls[i].isDone() {
			u.calls = slices.Delete(u.calls, i, i+1)
			ended--
			continue
		}
		i++
	}
}

// dialogKey names a dialog by our role in it: sipgo's IDs of the two
// sides of a call are equal, and the UA may be both (a customer calling a
// test number).
type dialogKey struct {
	uas bool
	id  string
}

func (u *UA) setDialog(k dialogKey, c *call) {
	u.mu.Lock()
	u.dialogs[k] = c
	u.mu.Unlock()
}

func (u *UA) dropDialog(k dialogKey) {
	u.mu.Lock()
	delete(u.dialogs, k)
	u.trim()
	u.mu.Unlock()
}

// dialogOf finds the call of an in-dialog request, whichever side we are.
func (u *UA) dialogOf(req *sip.Request) *call {
	uas, _ := sip.DialogIDFromRequestUAS(req)
	uac, _ := sip.DialogIDFromRequestUAC(req)
	u.mu.Lock()
	defer u.mu.Unlock()
	if c := u.dialogs[dialogKey{uas: true, id: uas}]; c != nil {
		return c
	}
	return u.dialogs[dialogKey{id: uac}]
}

func respond(log *slog.Logger, req *sip.Request, tx sip.ServerTransaction, status int, reason string, headers ...sip.Header) {
	res := sip.NewResponseFromRequest(req, status, reason, nil)
	for _, h := range headers {
		res.AppendHeader(h)
	}
	if err := tx.Respond(res); err != nil {
		log.Debug("respond", "status", status, "request", req.StartLine(), "err", err)
	}
}

// onInvite answers the test numbers; a re-INVITE renegotiates a call's media.
func (u *UA) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if req.To() == nil || req.From() == nil || req.CallID() == nil || req.CSeq() == nil {
		respond(u.log, req, tx, sip.StatusBadRequest, "Missing Mandatory Header")
		return
	}
	if req.To().Params.Has("tag") {
		u.onReInvite(req, tx)
		return
	}
	number := req.Recipient.User
	info := Info{Direction: DirectionInbound, From: req.From().Address.User, To: number, Peer: req.Source()}
	var src source
	switch number {
	case NumberEcho:
		info.Audio = "echo"
		src = &echoSource{}
	case NumberTone:
		info.Audio = "tone"
		src = newToneSource(u.opts.Tone)
	case NumberBusy:
		respond(u.log, req, tx, sip.StatusBusyHere, "Busy Here")
		if c, err := u.newCall(info, nil); err == nil {
			c.end(sip.StatusBusyHere, "busy")
			u.running.Done()
		}
		return
	default:
		respond(u.log, req, tx, sip.StatusNotFound, "Not Found")
		return
	}
	c, err := u.newCall(info, src)
	if err != nil {
		respond(u.log, req, tx, sip.StatusServiceUnavailable, "Shutting Down")
		return
	}
	c.answer(req, tx)
}
