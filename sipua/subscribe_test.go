package sipua

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// notifier is a registrar and message-summary notifier in one, on loopback
// UDP: the account's registrar, to which SUBSCRIBEs for our own address go
// as they do to a PBX. It keeps one subscription dialog at a time.
type notifier struct {
	t        testing.TB
	addr     string
	client   *sipgo.Client
	password string // non-empty: SUBSCRIBEs are challenged with 407
	grant    int    // the most seconds granted

	mu     sync.Mutex
	refuse int  // non-zero: SUBSCRIBEs are answered with this status
	forget bool // the next refresh is answered 481
	okCode int  // the status of an accepted SUBSCRIBE; default 200
	// notifyFirst: the NOTIFY of a new subscription goes before its 2xx.
	notifyFirst bool
	earlyCodes  []int // the answers to the NOTIFYs sent before a 2xx
	summary     MessageSummary
	subscribes  []*sip.Request // the SUBSCRIBEs accepted or refused after auth
	challenged  int
	badAuth     int
	dlg         *DialogState // our side of the current subscription
}

const mwiRealm = "mwi.test"

func startNotifier(t testing.TB, password string, grant int) *notifier {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("notifier"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n := &notifier{
		t: t, addr: conn.LocalAddr().String(), client: client, password: password, grant: grant,
		summary: MessageSummary{Waiting: true, Account: "sip:1001@" + mwiRealm,
			Counts: map[string]MessageCounts{"voice-message": {New: 2, Old: 8, UrgentOld: 2}}},
	}
	srv.OnRegister(n.onRegister)
	srv.OnSubscribe(n.onSubscribe)
	done := make(chan struct{})
	go func() { srv.ServeUDP(conn); close(done) }()
	t.Cleanup(func() { ua.Close(); conn.Close(); <-done })
	return n
}

// account is DN 1001 registered at the notifier.
func (n *notifier) account() Account {
	return Account{Site: "site1", Registrar: n.addr, Domain: mwiRealm, User: "1001", Password: "pw-1001", Expires: time.Hour}
}

func (n *notifier) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	if c := req.Contact(); c != nil {
		res.AppendHeader(c.Clone())
	}
	res.AppendHeader(sip.NewHeader("Expires", "3600"))
	tx.Respond(res)
}

func (n *notifier) onSubscribe(req *sip.Request, tx sip.ServerTransaction) {
	if n.password != "" {
		h := req.GetHeader("Proxy-Authorization")
		if h == nil {
			n.mu.Lock()
			n.challenged++
			n.mu.Unlock()
			res := sip.NewResponseFromRequest(req, sip.StatusProxyAuthRequired, "Proxy Authentication Required", nil)
			res.AppendHeader(sip.NewHeader("Proxy-Authenticate",
				fmt.Sprintf(`Digest realm="%s", nonce="%s", algorithm=MD5, qop="auth"`, mwiRealm, sip.GenerateTagN(12))))
			tx.Respond(res)
			return
		}
		if !n.verify(req, h.Value()) {
			n.mu.Lock()
			n.badAuth++
			n.mu.Unlock()
			tx.Respond(sip.NewResponseFromRequest(req, sip.StatusForbidden, "Forbidden", nil))
			return
		}
	}
	n.mu.Lock()
	n.subscribes = append(n.subscribes, req)
	if n.forget && tag(req.To().Params) != "" {
		n.forget = false
		n.mu.Unlock()
		tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Subscription Does Not Exist", nil))
		return
	}
	if n.refuse != 0 {
		code := n.refuse
		n.mu.Unlock()
		tx.Respond(sip.NewResponseFromRequest(req, code, "Refused", nil))
		return
	}
	expires := n.grant
	if h := req.GetHeader("Expires"); h != nil {
		if e, err := strconv.Atoi(h.Value()); err == nil && e < expires {
			expires = e
		}
	}
	fresh := tag(req.To().Params) == ""
	if fresh {
		var contact sip.Uri
		if c := req.Contact(); c != nil {
			contact = c.Address
		}
		n.dlg = &DialogState{
			CallID:       string(*req.CallID()),
			LocalTag:     sip.GenerateTagN(10),
			RemoteTag:    tag(req.From().Params),
			LocalURI:     req.To().Address.String(),
			RemoteURI:    req.From().Address.String(),
			RemoteCSeq:   req.CSeq().SeqNo,
			RemoteTarget: contact.String(),
			LocalContact: "sip:mwi@" + n.addr,
			Transport:    TransportUDP,
		}
	}
	localTag, okCode, notifyFirst := n.dlg.LocalTag, n.okCode, n.notifyFirst && fresh
	n.mu.Unlock()
	if okCode == 0 {
		okCode = sip.StatusOK
	}
	if notifyFirst {
		code := n.notify("active;expires="+strconv.Itoa(expires), true)
		n.mu.Lock()
		n.earlyCodes = append(n.earlyCodes, code)
		n.mu.Unlock()
	}
	res := sip.NewResponseFromRequest(req, okCode, "OK", nil)
	if fresh {
		res.To().Params.Add("tag", localTag)
	}
	res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "mwi", Host: "127.0.0.1", Port: n.port()}})
	res.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	tx.Respond(res)
	if notifyFirst {
		return
	}
	// The NOTIFY that every SUBSCRIBE brings (RFC 6665 section 4.2.1.1).
	go func() {
		if expires == 0 {
			n.notify("terminated;reason=timeout", false)
			return
		}
		n.notify("active;expires="+strconv.Itoa(expires), true)
	}()
}

func (n *notifier) port() int {
	_, p, _ := net.SplitHostPort(n.addr)
	port, _ := strconv.Atoi(p)
	return port
}

// verify checks a Proxy-Authorization against DN 1001's password.
func (n *notifier) verify(req *sip.Request, value string) bool {
	cred, err := digest.ParseCredentials(value)
	if err != nil || cred.Username != "1001" || cred.Realm != mwiRealm {
		return false
	}
	want, err := digest.Digest(&digest.Challenge{Realm: cred.Realm, Nonce: cred.Nonce, Algorithm: "MD5", QOP: []string{"auth"}},
		digest.Options{Method: string(req.Method), URI: cred.URI, Username: "1001", Password: n.password, Cnonce: cred.Cnonce, Count: cred.Nc})
	return err == nil && want.Response == cred.Response && cred.URI == req.Recipient.String()
}

// notify sends a NOTIFY in the current dialog with the given
// Subscription-State, with the summary as body when withBody, and returns
// the answer's status (0 when none came).
func (n *notifier) notify(state string, withBody bool) int {
	n.mu.Lock()
	if n.dlg == nil {
		n.mu.Unlock()
		return 0
	}
	req, dest, _, err := n.dlg.newRequest(sip.NOTIFY, n.dlg.nextCSeq())
	body := n.summary.String()
	n.mu.Unlock()
	if err != nil {
		n.t.Errorf("NOTIFY: %v", err)
		return 0
	}
	req.AppendHeader(sip.NewHeader("Event", EventMessageSummary))
	req.AppendHeader(sip.NewHeader("Subscription-State", state))
	if withBody {
		req.AppendHeader(sip.NewHeader("Content-Type", "application/simple-message-summary"))
		req.SetBody([]byte(body))
	}
	req.SetDestination(dest)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := n.client.Do(ctx, req)
	if err != nil {
		return 0
	}
	return res.StatusCode
}

// count reads one of n's counters.
func (n *notifier) count(c *int) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return *c
}

func (n *notifier) setSummary(m MessageSummary) {
	n.mu.Lock()
	n.summary = m
	n.mu.Unlock()
}

func (n *notifier) accepted() []*sip.Request {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]*sip.Request(nil), n.subscribes...)
}

// subRecorder collects SubscriptionEvents.
type subRecorder struct {
	mu     sync.Mutex
	events []SubscriptionEvent
}

func (r *subRecorder) record(ev Event) {
	if se, ok := ev.(SubscriptionEvent); ok {
		r.mu.Lock()
		r.events = append(r.events, se)
		r.mu.Unlock()
	}
}

// waitFor waits up to 5 s for an event that cond accepts.
func (r *subRecorder) waitFor(t testing.TB, what string, cond func(SubscriptionInfo) bool) SubscriptionInfo {
	t.Helper()
	var got SubscriptionInfo
	eventually(t, what, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, ev := range r.events {
			if cond(ev.SubscriptionInfo) {
				got = ev.SubscriptionInfo
				return true
			}
		}
		return false
	})
	return got
}

func (r *subRecorder) reset() {
	r.mu.Lock()
	r.events = nil
	r.mu.Unlock()
}

// startSubscriber starts an endpoint registered at n.
func startSubscriber(t testing.TB, n *notifier, clock Clock) (*Endpoint, *subRecorder) {
	t.Helper()
	rec := &subRecorder{}
	opts := fastOptions(n.account())
	opts.OnEvent = rec.record
	opts.Clock = clock
	e, _ := startEndpoint(t, opts)
	waitState(t, e, "site1", RegistrationRegistered, 5*time.Second)
	return e, rec
}

func summaryIs(want MessageSummary) func(SubscriptionInfo) bool {
	return func(si SubscriptionInfo) bool {
		m, ok := si.Content.(MessageSummary)
		return ok && si.State == SubscriptionActive && m.String() == want.String()
	}
}

// The whole life of a message-summary subscription: challenged SUBSCRIBE
// through the registrar, initial NOTIFY, a change, a refresh on the
// injected clock, unsubscribe, and 481 for a NOTIFY after the end.
func TestSubscribeMessageSummary(t *testing.T) {
	n := startNotifier(t, "pw-1001", 60)
	clock := newFakeClock()
	e, rec := startSubscriber(t, n, clock)

	s, err := e.Subscribe(SubscribeOptions{Site: "site1", Expires: 120 * time.Second})
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	first := n.accepted()
	if c := n.count(&n.challenged); len(first) != 1 || c != 1 {
		t.Fatalf("SUBSCRIBEs accepted %d, challenged %d; want 1 and 1", len(first), c)
	}
	req := first[0]
	for h, want := range map[string]string{"Event": "message-summary", "Accept": "application/simple-message-summary", "Expires": "120"} {
		if got := req.GetHeader(h); got == nil || got.Value() != want {
			t.Errorf("SUBSCRIBE %s = %v, want %q", h, got, want)
		}
	}
	if got := req.Recipient.String(); got != "sip:1001@"+mwiRealm {
		t.Errorf("Request-URI %s, want our own address", got)
	}
	if req.Contact() == nil {
		t.Error("SUBSCRIBE without Contact")
	}
	info := rec.waitFor(t, "initial NOTIFY", summaryIs(n.summary))
	if v := info.Content.(MessageSummary).Voice(); v != (MessageCounts{New: 2, Old: 8, UrgentOld: 2}) {
		t.Errorf("voice counts %+v", v)
	}
	if want := clock.Now().Add(60 * time.Second); !info.ExpiresAt.Equal(want) {
		t.Errorf("ExpiresAt %v, want %v (granted 60 s)", info.ExpiresAt, want)
	}

	changed := MessageSummary{Waiting: false, Counts: map[string]MessageCounts{"voice-message": {Old: 10}}}
	n.setSummary(changed)
	if code := n.notify("active;expires=60", true); code != 200 {
		t.Fatalf("NOTIFY with a change answered %d", code)
	}
	rec.waitFor(t, "changed summary", summaryIs(changed))

	// Granted 60 s: the refresh is due after 30 s, within the dialog.
	clock.Advance(29 * time.Second)
	time.Sleep(50 * time.Millisecond)
	if len(n.accepted()) != 1 {
		t.Fatal("refreshed before it was due")
	}
	clock.Advance(2 * time.Second)
	eventually(t, "refresh SUBSCRIBE", func() bool { return len(n.accepted()) == 2 })
	refresh := n.accepted()[1]
	if string(*refresh.CallID()) != string(*req.CallID()) || tag(refresh.To().Params) == "" {
		t.Error("refresh not sent within the subscription's dialog")
	}
	if refresh.CSeq().SeqNo <= req.CSeq().SeqNo {
		t.Errorf("refresh CSeq %d not above %d", refresh.CSeq().SeqNo, req.CSeq().SeqNo)
	}
	eventually(t, "expiry moved on", func() bool {
		return s.Info().ExpiresAt.Equal(clock.Now().Add(60 * time.Second))
	})

	if err := s.Unsubscribe(); err != nil {
		t.Fatalf("Unsubscribe: %v", err)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("Done not closed after Unsubscribe")
	}
	last := n.accepted()[len(n.accepted())-1]
	if last.GetHeader("Expires").Value() != "0" {
		t.Errorf("unsubscribe Expires %s, want 0", last.GetHeader("Expires").Value())
	}
	if info := s.Info(); info.State != SubscriptionTerminated || info.Reason != "unsubscribed" {
		t.Errorf("after Unsubscribe: %v %q", info.State, info.Reason)
	}
	if len(e.Subscriptions()) != 0 {
		t.Error("ended subscription still listed")
	}
	if code := n.notify("active", true); code != sip.StatusCallTransactionDoesNotExists {
		t.Errorf("NOTIFY after the end answered %d, want 481", code)
	}
}

// A subscription refreshes by itself with short lifetimes on the real
// clock.
func TestSubscriptionRefreshShortExpiry(t *testing.T) {
	n := startNotifier(t, "", 2)
	n.mu.Lock()
	n.okCode = sip.StatusAccepted // RFC 3265 notifiers answer 202
	n.mu.Unlock()
	e, rec := startSubscriber(t, n, nil)
	s, err := e.Subscribe(SubscribeOptions{Expires: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "active", func(si SubscriptionInfo) bool { return si.State == SubscriptionActive })
	eventually(t, "two refreshes", func() bool { return len(n.accepted()) >= 3 })
	if st := s.Info().State; st != SubscriptionActive {
		t.Errorf("state %v after refreshes", st)
	}
	for _, r := range n.accepted()[1:] {
		if tag(r.To().Params) == "" {
			t.Error("a refresh left the dialog")
		}
	}
}

// The notifier ends the subscription: deactivated asks for a new one at
// once (a new dialog), noresource ends it for good.
func TestSubscriptionTerminatedByNotifier(t *testing.T) {
	n := startNotifier(t, "", 600)
	e, rec := startSubscriber(t, n, nil)
	s, err := e.Subscribe(SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "active", func(si SubscriptionInfo) bool { return si.State == SubscriptionActive })
	firstCallID := string(*n.accepted()[0].CallID())
	if code := n.notify("pending;expires=600", false); code != 200 {
		t.Fatalf("pending NOTIFY answered %d", code)
	}
	rec.waitFor(t, "pending", func(si SubscriptionInfo) bool { return si.State == SubscriptionPending })

	rec.reset()
	if code := n.notify("terminated;reason=deactivated", false); code != 200 {
		t.Fatalf("terminating NOTIFY answered %d", code)
	}
	eventually(t, "a new SUBSCRIBE", func() bool { return len(n.accepted()) == 2 })
	again := n.accepted()[1]
	if string(*again.CallID()) == firstCallID || tag(again.To().Params) != "" {
		t.Error("re-subscription reused the ended dialog")
	}
	rec.waitFor(t, "subscribing after deactivated", func(si SubscriptionInfo) bool {
		return si.State == SubscriptionSubscribing && si.Reason == "deactivated"
	})
	rec.waitFor(t, "active again", func(si SubscriptionInfo) bool { return si.State == SubscriptionActive })

	if code := n.notify("terminated;reason=noresource", false); code != 200 {
		t.Fatalf("final NOTIFY answered %d", code)
	}
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("not ended by NOTIFY terminated;reason=noresource")
	}
	if info := s.Info(); info.State != SubscriptionTerminated || info.Reason != "noresource" {
		t.Errorf("ended as %v %q", info.State, info.Reason)
	}
	time.Sleep(100 * time.Millisecond)
	if len(n.accepted()) != 2 {
		t.Error("subscribed again after noresource")
	}
}

// probation with retry-after waits that long before subscribing again.
func TestSubscriptionProbationRetryAfter(t *testing.T) {
	n := startNotifier(t, "", 600)
	clock := newFakeClock()
	e, rec := startSubscriber(t, n, clock)
	if _, err := e.Subscribe(SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "active", func(si SubscriptionInfo) bool { return si.State == SubscriptionActive })
	if code := n.notify("terminated;reason=probation;retry-after=20", false); code != 200 {
		t.Fatalf("NOTIFY answered %d", code)
	}
	info := rec.waitFor(t, "retry planned", func(si SubscriptionInfo) bool { return si.Reason == "probation" })
	if want := clock.Now().Add(20 * time.Second); !info.NextAttempt.Equal(want) {
		t.Errorf("next attempt %v, want %v", info.NextAttempt, want)
	}
	clock.Advance(19 * time.Second)
	time.Sleep(50 * time.Millisecond)
	if len(n.accepted()) != 1 {
		t.Fatal("subscribed again before retry-after")
	}
	clock.Advance(time.Second)
	eventually(t, "subscribed again", func() bool { return len(n.accepted()) == 2 })
}

// A refresh answered 481 (the notifier lost the subscription) makes a new
// subscription at once, in a new dialog.
func TestSubscriptionRefresh481Resubscribes(t *testing.T) {
	n := startNotifier(t, "", 60)
	clock := newFakeClock()
	e, rec := startSubscriber(t, n, clock)
	s, err := e.Subscribe(SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "active", func(si SubscriptionInfo) bool { return si.State == SubscriptionActive })
	n.mu.Lock()
	n.forget = true
	n.mu.Unlock()
	rec.reset()
	clock.Advance(31 * time.Second)
	eventually(t, "refresh and new SUBSCRIBE", func() bool { return len(n.accepted()) == 3 })
	reqs := n.accepted()
	if tag(reqs[1].To().Params) == "" || tag(reqs[2].To().Params) != "" || *reqs[2].CallID() == *reqs[0].CallID() {
		t.Error("after 481 the new SUBSCRIBE is not a new dialog")
	}
	rec.waitFor(t, "active again", func(si SubscriptionInfo) bool { return si.State == SubscriptionActive })
	if st := s.Info().State; st != SubscriptionActive {
		t.Errorf("state %v", st)
	}
}

// A NOTIFY that comes before the SUBSCRIBE's 2xx (the notifier answers
// the SUBSCRIBE only once the NOTIFY got its answer) matches the SUBSCRIBE
// by Call-ID, From tag and Event, is accepted with 200 and makes the dialog
// (RFC 6665 section 4.1.2.4); the 2xx that follows changes nothing. With
// a digest challenge first, the authorised SUBSCRIBE is the one matched.
func TestNotifyBeforeSubscribeAnswer(t *testing.T) {
	for _, password := range []string{"", "pw-1001"} {
		t.Run(fmt.Sprintf("challenged=%v", password != ""), func(t *testing.T) {
			testNotifyBeforeSubscribeAnswer(t, password)
		})
	}
}

func testNotifyBeforeSubscribeAnswer(t *testing.T, password string) {
	n := startNotifier(t, password, 600)
	n.mu.Lock()
	n.notifyFirst = true
	n.mu.Unlock()
	e, rec := startSubscriber(t, n, nil)
	s, err := e.Subscribe(SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.mu.Lock()
	early := append([]int(nil), n.earlyCodes...)
	n.mu.Unlock()
	if len(early) != 1 || early[0] != sip.StatusOK {
		t.Fatalf("the NOTIFYs before the 2xx were answered %v, want [200]", early)
	}
	rec.waitFor(t, "active from the early NOTIFY", summaryIs(n.summary))
	if info := s.Info(); info.State != SubscriptionActive || info.ExpiresAt.IsZero() {
		t.Errorf("after the 2xx: %v, expires %v", info.State, info.ExpiresAt)
	}
	changed := MessageSummary{Waiting: true, Counts: map[string]MessageCounts{"voice-message": {New: 5}}}
	n.setSummary(changed)
	if code := n.notify("active", true); code != 200 {
		t.Fatalf("next NOTIFY answered %d", code)
	}
	rec.waitFor(t, "changed", summaryIs(changed))
	if err := s.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if last := n.accepted()[1]; tag(last.To().Params) == "" {
		t.Error("unsubscribe sent outside the dialog")
	}
}

// A refresh refused with 503 is tried again after the back-off, still
// within the dialog while the subscription lasts.
func TestSubscriptionRefreshRetried(t *testing.T) {
	n := startNotifier(t, "", 60)
	clock := newFakeClock()
	e, rec := startSubscriber(t, n, clock)
	s, err := e.Subscribe(SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "active", func(si SubscriptionInfo) bool { return si.State == SubscriptionActive })
	n.mu.Lock()
	n.refuse = sip.StatusServiceUnavailable
	n.mu.Unlock()
	clock.Advance(31 * time.Second)
	info := rec.waitFor(t, "refresh refused", func(si SubscriptionInfo) bool { return si.Code == sip.StatusServiceUnavailable })
	if want := clock.Now().Add(100 * time.Millisecond); info.State != SubscriptionActive || !info.NextAttempt.Equal(want) {
		t.Errorf("after a refused refresh: %v, next %v; want active, next %v (MinBackoff)", info.State, info.NextAttempt, want)
	}
	n.mu.Lock()
	n.refuse = 0
	n.mu.Unlock()
	clock.Advance(100 * time.Millisecond)
	eventually(t, "refresh tried again", func() bool { return len(n.accepted()) == 3 })
	if tag(n.accepted()[2].To().Params) == "" {
		t.Error("retry left the dialog")
	}
	eventually(t, "refresh accepted", func() bool { return s.Info().Code == 0 })
}

// A refused SUBSCRIBE fails Subscribe with the status.
func TestSubscribeRefused(t *testing.T) {
	n := startNotifier(t, "", 600)
	n.mu.Lock()
	n.refuse = sip.StatusForbidden
	n.mu.Unlock()
	e, rec := startSubscriber(t, n, nil)
	_, err := e.Subscribe(SubscribeOptions{})
	if !errors.Is(err, ErrSubscriptionRefused) {
		t.Fatalf("Subscribe: %v, want ErrSubscriptionRefused", err)
	}
	rec.waitFor(t, "terminated with 403", func(si SubscriptionInfo) bool {
		return si.State == SubscriptionTerminated && si.Code == sip.StatusForbidden
	})
	if len(e.Subscriptions()) != 0 {
		t.Error("refused subscription listed")
	}
	if _, err := e.Subscribe(SubscribeOptions{Event: "presence"}); err == nil {
		t.Error("Subscribe to an event without a package succeeded")
	}
}

// A wrong password is answered once, then the 403 ends it.
func TestSubscribeWrongPassword(t *testing.T) {
	n := startNotifier(t, "other", 600)
	e, _ := startSubscriber(t, n, nil)
	if _, err := e.Subscribe(SubscribeOptions{}); !errors.Is(err, ErrSubscriptionRefused) {
		t.Fatalf("Subscribe: %v, want refused", err)
	}
	if c := n.count(&n.badAuth); c != 1 {
		t.Errorf("answered challenges %d, want 1", c)
	}
}

// Close unsubscribes.
func TestCloseUnsubscribes(t *testing.T) {
	n := startNotifier(t, "", 600)
	e, rec := startSubscriber(t, n, nil)
	s, err := e.Subscribe(SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "active", func(si SubscriptionInfo) bool { return si.State == SubscriptionActive })
	e.Close()
	reqs := n.accepted()
	if len(reqs) != 2 || reqs[1].GetHeader("Expires").Value() != "0" {
		t.Fatalf("SUBSCRIBEs %d; want the unsubscribe last", len(reqs))
	}
	select {
	case <-s.Done():
	default:
		t.Error("subscription not ended by Close")
	}
}

// NOTIFYs of no subscription (nor call) get 481; a NOTIFY of another event
// package in the subscription's dialog gets 489.
func TestNotifyUnknownSubscription(t *testing.T) {
	n := startNotifier(t, "", 600)
	e, rec := startSubscriber(t, n, nil)
	client := rawClient(t)
	send := func(callID, toTag, event string) int {
		t.Helper()
		req := sip.NewRequest(sip.NOTIFY, sip.Uri{Scheme: "sip", User: "1001", Host: "127.0.0.1"})
		req.SetDestination(e.Addr(TransportUDP).String())
		from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "mwi", Host: mwiRealm}, Params: sip.NewParams()}
		from.Params.Add("tag", "nt1")
		to := &sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: "1001", Host: mwiRealm}, Params: sip.NewParams()}
		if toTag != "" {
			to.Params.Add("tag", toTag)
		}
		id := sip.CallIDHeader(callID)
		req.AppendHeader(from)
		req.AppendHeader(to)
		req.AppendHeader(&id)
		req.AppendHeader(&sip.CSeqHeader{SeqNo: 1000, MethodName: sip.NOTIFY})
		req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: 5999}})
		req.AppendHeader(sip.NewHeader("Event", event))
		req.AppendHeader(sip.NewHeader("Subscription-State", "active"))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		res, err := client.Do(ctx, req)
		if err != nil {
			t.Fatalf("NOTIFY: %v", err)
		}
		return res.StatusCode
	}
	if code := send("no-such-call", "abc", EventMessageSummary); code != sip.StatusCallTransactionDoesNotExists {
		t.Errorf("NOTIFY of an unknown subscription: %d, want 481", code)
	}
	if code := send("no-such-call", "", EventMessageSummary); code != sip.StatusCallTransactionDoesNotExists {
		t.Errorf("NOTIFY without To tag: %d, want 481", code)
	}

	s, err := e.Subscribe(SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "active", func(si SubscriptionInfo) bool { return si.State == SubscriptionActive })
	s.mu.Lock()
	callID, ourTag := s.rec.Dialog.CallID, s.rec.Dialog.LocalTag
	s.mu.Unlock()
	if code := send(callID, ourTag, EventMessageSummary); code != sip.StatusCallTransactionDoesNotExists {
		t.Errorf("NOTIFY with another notifier's tag: %d, want 481", code)
	}
	req, dest := n.rawNotify(t)
	req.ReplaceHeader(sip.NewHeader("Event", "presence"))
	req.SetDestination(dest)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := n.client.Do(ctx, req)
	if err != nil || res.StatusCode != 489 {
		t.Errorf("NOTIFY of another event: %v %v, want 489", res, err)
	}
}

// rawNotify builds the next NOTIFY of the notifier's dialog, unsent.
func (n *notifier) rawNotify(t testing.TB) (*sip.Request, string) {
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	req, dest, _, err := n.dlg.newRequest(sip.NOTIFY, n.dlg.nextCSeq())
	if err != nil {
		t.Fatal(err)
	}
	req.AppendHeader(sip.NewHeader("Event", EventMessageSummary))
	req.AppendHeader(sip.NewHeader("Subscription-State", "active"))
	return req, dest
}

func TestParseSubscriptionState(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want subState
		bad  bool
	}{
		{in: "active;expires=600", want: subState{state: SubscriptionActive, expires: 600 * time.Second, retryAfter: -1}},
		{in: " Pending ", want: subState{state: SubscriptionPending, expires: -1, retryAfter: -1}},
		{in: "terminated;reason=Probation;retry-after=30", want: subState{state: SubscriptionTerminated, expires: -1, retryAfter: 30 * time.Second, reason: "probation"}},
		{in: "terminated", want: subState{state: SubscriptionTerminated, expires: -1, retryAfter: -1}},
		{in: "waiting", bad: true},
		{in: "active;expires=-1", bad: true},
		{in: "active;expires=99999999999", bad: true},
		{in: "", bad: true},
	} {
		got, err := parseSubscriptionState(tc.in)
		if (err != nil) != tc.bad || !tc.bad && got != tc.want {
			t.Errorf("parseSubscriptionState(%q) = %+v, %v; want %+v (error %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}
