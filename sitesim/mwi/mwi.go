// Package mwi is a simulated site's voicemail notifier: it takes
// message-summary subscriptions (RFC 3842, RFC 6665) addressed to the site
// and tells each subscriber its mailbox's counts, at once and whenever a
// tester changes them (Set). Mailboxes are named by the subscribed URI's
// user part: the DN.
package mwi

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Event is the event package served.
const Event = "message-summary"

// maxExpires caps the lifetime granted to a subscription.
const maxExpires = time.Hour

// notifyTimeout bounds one NOTIFY transaction.
const notifyTimeout = 5 * time.Second

// Counts are a mailbox's voice messages.
type Counts struct {
	New, Old int
}

// Body is the application/simple-message-summary body for c.
func (c Counts) Body() string {
	waiting := "no"
	if c.New > 0 {
		waiting = "yes"
	}
	return fmt.Sprintf("Messages-Waiting: %s\r\nVoice-Message: %d/%d\r\n", waiting, c.New, c.Old)
}

// Notifier holds the mailboxes and the subscriptions to them.
type Notifier struct {
	log *slog.Logger
	now func() time.Time

	mu    sync.Mutex
	boxes map[string]Counts
	subs  map[string]*sub // by Call-ID and our tag
}

// sub is one subscription: the dialog as the notifier sees it.
type sub struct {
	box       string
	callID    string
	localTag  string
	local     sip.Uri // the mailbox's URI: the NOTIFYs' From
	self      sip.Uri // our Contact
	remote    sip.FromHeader
	target    sip.Uri // the subscriber's Contact
	transport string
	client    *sipgo.Client
	cseq      uint32
	expiresAt time.Time
}

// New returns a Notifier with every mailbox empty.
func New(log *slog.Logger) *Notifier {
	if log == nil {
		log = slog.Default()
	}
	return &Notifier{log: log.With("component", "mwi"), now: time.Now, boxes: map[string]Counts{}, subs: map[string]*sub{}}
}

// Counts returns a mailbox's counts.
func (n *Notifier) Counts(box string) Counts {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.boxes[box]
}

// Set changes a mailbox's counts and notifies its subscribers.
func (n *Notifier) Set(box string, c Counts) {
	n.mu.Lock()
	n.boxes[box] = c
	var to []*sub
	now := n.now()
	for k, s := range n.subs {
		switch {
		case s.expiresAt.Before(now):
			delete(n.subs, k) // never refreshed: over
		case s.box == box:
			to = append(to, s)
		}
	}
	n.mu.Unlock()
	for _, s := range to {
		go n.notify(s, c, false)
	}
}

// Handle answers a SUBSCRIBE addressed to the site; client sends the
// NOTIFYs from the socket the SUBSCRIBE came in on, whose address is self
// (the dialog's Contact).
func (n *Notifier) Handle(req *sip.Request, tx sip.ServerTransaction, client *sipgo.Client, self sip.Uri) {
	if ev := req.GetHeader("Event"); ev == nil || !strings.EqualFold(strings.TrimSpace(strings.Split(ev.Value(), ";")[0]), Event) {
		n.respond(tx, sip.NewResponseFromRequest(req, 489, "Bad Event", nil))
		return
	}
	expires := maxExpires
	if h := req.GetHeader("Expires"); h != nil {
		secs, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32)
		if err != nil {
			n.respond(tx, sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Bad Expires", nil))
			return
		}
		expires = min(time.Duration(secs)*time.Second, maxExpires)
	}
	contact := req.Contact()
	if contact == nil && !req.To().Params.Has("tag") {
		n.respond(tx, sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Missing Contact", nil))
		return
	}

	// The answer's To tag is ours: sipgo gives an initial request one.
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	ourTag, _ := res.To().Params.Get("tag")

	n.mu.Lock()
	var s *sub
	if tag, ok := req.To().Params.Get("tag"); ok {
		s = n.subs[req.CallID().Value()+"/"+tag]
		if s == nil {
			n.mu.Unlock()
			n.respond(tx, sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Subscription Does Not Exist", nil))
			return
		}
	} else {
		s = &sub{
			box:       req.Recipient.User,
			callID:    req.CallID().Value(),
			localTag:  ourTag,
			local:     req.To().Address,
			remote:    *req.From(),
			transport: req.Transport(),
		}
		n.subs[s.callID+"/"+s.localTag] = s
	}
	if contact != nil {
		s.target = contact.Address
	}
	s.client, s.self = client, self
	s.expiresAt = n.now().Add(expires)
	ended := expires == 0
	if ended {
		delete(n.subs, s.callID+"/"+s.localTag)
	}
	c := n.boxes[s.box]
	n.mu.Unlock()

	res.AppendHeader(&sip.ContactHeader{Address: self})
	res.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	n.respond(tx, res)
	n.log.Info("subscription", "box", s.box, "expires", expires, "call_id", s.callID)
	go n.notify(s, c, ended)
}

// notify sends one NOTIFY with the counts; final ends the subscription.
func (n *Notifier) notify(s *sub, c Counts, final bool) {
	n.mu.Lock()
	s.cseq++
	seq := s.cseq
	left := max(s.expiresAt.Sub(n.now()), 0)
	target, client, transport, self := s.target, s.client, s.transport, s.self
	n.mu.Unlock()

	req := sip.NewRequest(sip.NOTIFY, target)
	from := &sip.FromHeader{Address: s.local, Params: sip.NewParams()}
	from.Params.Add("tag", s.localTag)
	to := s.remote
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{DisplayName: to.DisplayName, Address: to.Address, Params: to.Params.Clone()})
	cid := sip.CallIDHeader(s.callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: sip.NOTIFY})
	req.AppendHeader(&sip.ContactHeader{Address: self})
	req.AppendHeader(sip.NewHeader("Event", Event))
	state := fmt.Sprintf("active;expires=%d", int(left/time.Second))
	if final {
		state = "terminated;reason=timeout"
	}
	req.AppendHeader(sip.NewHeader("Subscription-State", state))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/simple-message-summary"))
	req.SetBody([]byte(c.Body()))
	if transport != "" {
		req.SetTransport(transport)
	}
	// The first NOTIFY may overtake our 200 OK; the subscriber must take
	// it all the same (RFC 6665 section 4.1.2.4), so a 481 ends the
	// subscription as it does for any NOTIFY: no retry that would hide a
	// subscriber's fault.
	ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
	res, err := client.Do(ctx, req)
	cancel()
	if err != nil {
		n.log.Info("NOTIFY failed", "box", s.box, "err", err)
		return
	}
	if !res.IsSuccess() {
		n.log.Info("NOTIFY refused", "box", s.box, "status", res.StatusCode)
		if res.StatusCode == sip.StatusCallTransactionDoesNotExists {
			n.mu.Lock()
			delete(n.subs, s.callID+"/"+s.localTag)
			n.mu.Unlock()
		}
	}
}

func (n *Notifier) respond(tx sip.ServerTransaction, res *sip.Response) {
	if err := tx.Respond(res); err != nil {
		n.log.Debug("respond", "status", res.StatusCode, "err", err)
	}
}
