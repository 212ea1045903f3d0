package sipcall

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/tandem-softphone/tandem/media/rtpstream"
	"github.com/tandem-softphone/tandem/media/sdp"
	"github.com/tandem-softphone/tandem/media/wav"
)

// State is where a call is.
type State string

// The states of a call, in order.
const (
	StateCalling   State = "calling"   // INVITE sent or received, no ringing yet
	StateRinging   State = "ringing"   // the far end rings
	StateConnected State = "connected" // answered: media flows
	StateEnded     State = "ended"
)

// Directions of a call.
const (
	DirectionOutbound = "outbound" // placed by Dial
	DirectionInbound  = "inbound"  // answered at a test number
)

// Info is a call's state.
type Info struct {
	ID        string `json:"id"`
	Direction string `json:"direction"`
	From      string `json:"from"`
	To        string `json:"to"`
	// Peer is the SIP server the call went through: the one dialled, or
	// the one an inbound INVITE came from (host:port).
	Peer  string `json:"peer"`
	State State  `json:"state"`
	// Status is the final response to the INVITE, once there is one.
	Status int `json:"status,omitempty"`
	// Reason tells why the call ended: "hangup", "remote hangup",
	// "duration", "busy", "cancelled", or the failure.
	Reason string `json:"reason,omitempty"`
	Codec  string `json:"codec,omitempty"`
	// Audio is what the call plays: the WAV file, "tone" or "echo".
	Audio           string    `json:"audio,omitempty"`
	Record          string    `json:"record,omitempty"`
	Started         time.Time `json:"started"`
	Answered        time.Time `json:"answered,omitzero"`
	Ended           time.Time `json:"ended,omitzero"`
	PacketsSent     uint64    `json:"rtp_sent"`
	PacketsReceived uint64    `json:"rtp_received"`
}

// call is one call of the UA.
type call struct {
	ua  *UA
	id  string
	src source // nil for a call refused at once

	hangup     chan struct{} // closed to ask the call to end
	hangupOnce sync.Once
	done       chan struct{} // closed when the call has ended

	mu      sync.Mutex
	info    Info
	ended   bool
	local   sdp.Local
	stream  *rtpstream.Stream
	rec     *wav.Writer
	dialog  dialogKey                  // zero until there is a dialog
	client  *sipgo.DialogClientSession // outbound
	server  *sipgo.DialogServerSession // inbound
	offered bool                       // a 2xx to an offerless re-INVITE carried our offer
}

func (c *call) snapshot() Info {
	c.mu.Lock()
	defer c.mu.Unlock()
	info := c.info
	if c.stream != nil {
		st := c.stream.Stats()
		info.PacketsSent, info.PacketsReceived = st.PacketsSent, st.PacketsReceived
	}
	return info
}

func (c *call) isDone() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *call) requestHangup() { c.hangupOnce.Do(func() { close(c.hangup) }) }

func (c *call) setState(s State) {
	c.mu.Lock()
	if !c.ended {
		c.info.State = s
		if s == StateConnected {
			c.info.Answered = time.Now()
		}
	}
	c.mu.Unlock()
}

// end marks the call ended and releases its stream, recording and dialog.
func (c *call) end(status int, reason string) {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	c.ended = true
	stream, rec, key := c.stream, c.rec, c.dialog
	c.mu.Unlock()
	// The recording is complete before anyone sees the call ended.
	if rec != nil {
		if err := rec.Close(); err != nil {
			c.ua.log.Warn("close recording", "call", c.id, "err", err)
		}
	}
	var st rtpstream.Stats
	if stream != nil {
		stream.Close()
		st = stream.Stats()
	}
	c.mu.Lock()
	c.stream = nil
	c.info.PacketsSent, c.info.PacketsReceived = st.PacketsSent, st.PacketsReceived
	c.info.State = StateEnded
	c.info.Ended = time.Now()
	if status != 0 && c.info.Status == 0 {
		c.info.Status = status
	}
	c.info.Reason = reason
	c.mu.Unlock()
	close(c.done)
	if key.id != "" {
		c.ua.dropDialog(key)
	} else {
		c.ua.mu.Lock()
		c.ua.trim()
		c.ua.mu.Unlock()
	}
	c.ua.log.Info("call ended", "call", c.id, "to", c.info.To, "status", status, "reason", reason)
}

// openStream binds the call's RTP port.
func (c *call) openStream() error {
	s, err := rtpstream.Open(rtpstream.Config{
		LocalAddr:    netip.AddrPortFrom(c.ua.addr.Addr(), 0),
		SampleRate:   sampleRate,
		NoRTPTimeout: -1,
		Logger:       c.ua.log,
	})
	if err != nil {
		return fmt.Errorf("rtp: %w", err)
	}
	c.mu.Lock()
	c.stream = s
	c.local.Port = int(s.LocalAddr().Port())
	c.local.RTCPPort = int(s.LocalRTCPAddr().Port())
	c.mu.Unlock()
	return nil
}

// startMedia starts sending with the negotiated media.
func (c *call) startMedia(m sdp.Media) error {
	c.mu.Lock()
	c.info.Codec = m.Send.Name
	s := c.stream
	c.mu.Unlock()
	return s.Start(m)
}

// runOutbound places the call and runs it to its end.
func (c *call) runOutbound(uri sip.Uri, duration time.Duration) {
	defer c.ua.running.Done()
	u := c.ua
	if err := c.openStream(); err != nil {
		c.end(0, err.Error())
		return
	}
	c.mu.Lock()
	offer, err := sdp.Offer(&c.local)
	c.mu.Unlock()
	if err != nil {
		c.end(0, "offer: "+err.Error())
		return
	}
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: u.opts.User, Host: u.addr.Addr().String()}}
	from.Params.Add("tag", sip.GenerateTagN(16))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	dialog, err := u.dialog.Invite(ctx, uri, offer, from, sip.NewHeader("Content-Type", "application/sdp"))
	cancel()
	if err != nil {
		c.end(0, "INVITE not sent: "+err.Error())
		return
	}
	c.mu.Lock()
	c.client = dialog
	c.mu.Unlock()

	// Hangup while it rings is a CANCEL: WaitAnswer sends it when its
	// context ends.
	wait, stopWait := context.WithCancel(context.Background())
	go func() {
		select {
		case <-c.hangup:
		case <-wait.Done():
		}
		stopWait()
	}()
	err = dialog.WaitAnswer(wait, sipgo.AnswerOptions{OnResponse: func(r *sip.Response) error {
		if r.StatusCode > 100 && r.StatusCode < 200 {
			c.setState(StateRinging)
		}
		return nil
	}})
	stopWait()
	if err != nil {
		var de *sipgo.ErrDialogResponse
		switch {
		case errors.As(err, &de):
			c.end(de.Res.StatusCode, de.Res.Reason)
		case errors.Is(err, context.Canceled):
			c.end(sip.StatusRequestTerminated, "cancelled")
		default:
			c.end(0, err.Error())
		}
		return
	}
	c.mu.Lock()
	c.dialog = dialogKey{id: dialog.ID}
	c.info.Status = dialog.InviteResponse.StatusCode
	c.mu.Unlock()
	u.setDialog(c.dialog, c)

	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	err = dialog.Ack(ctx)
	cancel()
	if err != nil {
		c.end(0, "ACK: "+err.Error())
		return
	}
	c.mu.Lock()
	media, err := sdp.ParseAnswer(&c.local, dialog.InviteResponse.Body())
	c.mu.Unlock()
	if err == nil {
		err = c.startMedia(media)
	}
	if err != nil {
		c.bye(func(ctx context.Context) error { return dialog.Bye(ctx) })
		c.end(0, "media: "+err.Error())
		return
	}
	c.setState(StateConnected)
	c.converse(dialog.Context(), duration, func(ctx context.Context) error { return dialog.Bye(ctx) })
}

// answer answers an INVITE to a test number, from its request handler.
func (c *call) answer(req *sip.Request, tx sip.ServerTransaction) {
	u := c.ua
	fail := func(status int, reason string, headers ...sip.Header) {
		respond(u.log, req, tx, status, reason, headers...)
		c.end(status, reason)
		u.running.Done()
	}
	dialog, err := u.dialog.ReadInvite(req, tx)
	if err != nil {
		fail(sip.StatusBadRequest, err.Error())
		return
	}
	if err := c.openStream(); err != nil {
		fail(sip.StatusInternalServerError, "No Media Port")
		return
	}
	c.mu.Lock()
	answer, media, err := sdp.Answer(&c.local, req.Body())
	c.mu.Unlock()
	var na *sdp.NotAcceptableError
	if errors.As(err, &na) {
		fail(sip.StatusNotAcceptableHere, "Not Acceptable Here",
			sip.NewHeader("Warning", strconv.Itoa(na.Warn)+` sitesim "`+na.Error()+`"`))
		return
	}
	if err != nil {
		fail(sip.StatusInternalServerError, "Answer Failed")
		return
	}
	c.mu.Lock()
	c.server, c.dialog = dialog, dialogKey{uas: true, id: dialog.ID}
	c.mu.Unlock()
	u.setDialog(c.dialog, c)
	if err := dialog.Respond(sip.StatusRinging, "Ringing", nil); err != nil {
		c.end(0, "180: "+err.Error())
		u.running.Done()
		return
	}
	c.setState(StateRinging)
	if err := c.startMedia(media); err != nil {
		fail(sip.StatusInternalServerError, "Media Failed")
		return
	}
	// RespondSDP returns once the ACK came.
	if err := dialog.RespondSDP(answer); err != nil {
		c.end(0, "answer: "+err.Error())
		u.running.Done()
		return
	}
	c.mu.Lock()
	c.info.Status = sip.StatusOK
	c.mu.Unlock()
	c.setState(StateConnected)
	go func() {
		defer u.running.Done()
		c.converse(dialog.Context(), 0, func(ctx context.Context) error { return dialog.Bye(ctx) })
	}()
}

// converse runs the media of a connected call until the far end hangs up
// (remote ends), Hangup is asked, or duration passes; then it hangs up
// with bye unless the far end did.
func (c *call) converse(remote context.Context, duration time.Duration, bye func(context.Context) error) {
	var limit <-chan time.Time
	if duration > 0 {
		t := time.NewTimer(duration)
		defer t.Stop()
		limit = t.C
	}
	reason := make(chan string, 1)
	stop := make(chan struct{})
	go func() {
		select {
		case <-remote.Done():
			reason <- "remote hangup"
		case <-c.hangup:
			reason <- "hangup"
		case <-limit:
			reason <- "duration"
		}
		close(stop)
	}()
	c.pump(stop)
	why := <-reason
	if why != "remote hangup" {
		c.bye(bye)
	}
	c.end(0, why)
}

// bye sends a BYE, bounded in time.
func (c *call) bye(bye func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := bye(ctx); err != nil {
		c.ua.log.Info("BYE", "call", c.id, "err", err)
	}
}

// onAck confirms an answered test-number call, and completes an offerless
// re-INVITE whose answer comes in the ACK.
func (u *UA) onAck(req *sip.Request, tx sip.ServerTransaction) {
	c := u.dialogOf(req)
	if c == nil {
		return
	}
	c.mu.Lock()
	server, offered := c.server, c.offered
	c.offered = false
	c.mu.Unlock()
	if server != nil {
		// Errs (and is ignored) for the ACK of a re-INVITE's 2xx.
		server.ReadAck(req, tx)
	}
	if offered && len(req.Body()) > 0 {
		c.mu.Lock()
		media, err := sdp.ParseAnswer(&c.local, req.Body())
		stream := c.stream
		c.mu.Unlock()
		if err == nil && stream != nil {
			err = stream.Update(media)
		}
		if err != nil {
			u.log.Info("answer in ACK", "call", c.id, "err", err)
		}
	}
}

// onBye ends a call at the far end's request.
func (u *UA) onBye(req *sip.Request, tx sip.ServerTransaction) {
	c := u.dialogOf(req)
	if c == nil {
		respond(u.log, req, tx, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	c.mu.Lock()
	client, server := c.client, c.server
	c.mu.Unlock()
	var err error
	if server != nil {
		err = server.ReadBye(req, tx)
	} else {
		err = client.ReadBye(req, tx)
	}
	if err != nil {
		u.log.Info("BYE", "call", c.id, "err", err)
	}
}

// onReInvite renegotiates a call's media (hold, resume, codec change).
func (u *UA) onReInvite(req *sip.Request, tx sip.ServerTransaction) {
	c := u.dialogOf(req)
	if c == nil {
		respond(u.log, req, tx, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	c.mu.Lock()
	var body []byte
	var err error
	if len(req.Body()) == 0 {
		body, err = sdp.Offer(&c.local)
		c.offered = err == nil
	} else {
		var media sdp.Media
		body, media, err = sdp.Answer(&c.local, req.Body())
		if err == nil && c.stream != nil {
			err = c.stream.Update(media)
		}
	}
	if err == nil {
		c.refreshTargetLocked(req)
	}
	c.mu.Unlock()
	if err != nil {
		u.log.Info("re-INVITE refused", "call", c.id, "err", err)
		respond(u.log, req, tx, sip.StatusNotAcceptableHere, "Not Acceptable Here")
		return
	}
	res := sip.NewSDPResponseFromRequest(req, body)
	res.AppendHeader(sip.HeaderClone(&u.dialog.ContactHDR))
	if err := tx.Respond(res); err != nil {
		u.log.Info("answer re-INVITE", "call", c.id, "err", err)
	}
}

// refreshTargetLocked takes the Contact of a target refresh (a re-INVITE,
// RFC 3261 12.2.2) as the peer's new address: sipgo's dialogs send their
// BYE to the Contact of the message that set the dialog up, so that is
// the one updated. A peer restored in a new process moves this way.
func (c *call) refreshTargetLocked(req *sip.Request) {
	ct := req.Contact()
	if ct == nil {
		return
	}
	switch {
	case c.server != nil:
		c.server.InviteRequest.ReplaceHeader(sip.HeaderClone(ct))
	case c.client != nil && c.client.InviteResponse != nil:
		c.client.InviteResponse.ReplaceHeader(sip.HeaderClone(ct))
	}
}
