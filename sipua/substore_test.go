package sipua

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

var goldenSubV1 = filepath.Join("testdata", "buffers", "subscription-v1.bin")

// goldenSubscription is the subscription the version 1 golden buffer
// holds: DN 1001's message-summary subscription at site1, through one
// loose router, with its last NOTIFY body. Its lifetime ran out long ago,
// so a restore subscribes afresh at once.
func goldenSubscription() *storedSubscription {
	return &storedSubscription{
		ID:        "0b5e55ed-0000-4000-8000-000000000001",
		Site:      "site1",
		User:      "1001",
		Event:     EventMessageSummary,
		Target:    "sip:1001@" + mwiRealm,
		State:     SubscriptionActive,
		Expires:   time.Hour,
		ExpiresAt: time.Unix(1767229200, 0),
		Next:      time.Unix(1767229168, 0),
		Body:      []byte("Messages-Waiting: yes\r\nMessage-Account: sip:1001@mwi.test\r\nvoice-message: 2/8 (0/2)\r\n"),
		Dialog: DialogState{
			CallID:       "golden-subscription@127.0.0.1",
			LocalTag:     "ltag-gsub",
			RemoteTag:    "rtag-gsub",
			LocalURI:     "sip:1001@" + mwiRealm,
			RemoteURI:    "sip:1001@" + mwiRealm,
			LocalCSeq:    4,
			RemoteCSeq:   9,
			RouteSet:     []string{"sip:127.0.0.1:29064;lr"},
			RemoteTarget: "sip:mwi@127.0.0.1:29064",
			LocalContact: "sip:1001@127.0.0.1:5060",
			Transport:    TransportUDP,
		},
	}
}

// writeSubFuzzSeed writes data as a seed of FuzzDecodeSubscriptionBuffer.
func writeSubFuzzSeed(t *testing.T, name string, data []byte) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeSubscriptionBuffer")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(data)) + ")\n"
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// storeSubscription stores s and checks the size asked beforehand
// (BC-26).
func storeSubscription(t *testing.T, s *Subscription) []byte {
	t.Helper()
	size, err := s.StorageSize()
	if err != nil {
		t.Fatalf("StorageSize: %v", err)
	}
	buf, err := s.Store(make([]byte, 0, size))
	if err != nil {
		t.Fatalf("Store: %v", err)
	}
	if len(buf) != size {
		t.Fatalf("stored %d bytes, StorageSize said %d", len(buf), size)
	}
	return buf
}

// subscriberOn starts an endpoint registered at n that listens on port.
func subscriberOn(t *testing.T, n *notifier, port int, clock Clock) (*Endpoint, *subRecorder) {
	t.Helper()
	rec := &subRecorder{}
	opts := fastOptions(n.account())
	opts.OnEvent = rec.record
	opts.Clock = clock
	opts.ListenPort = port
	e, _ := startEndpoint(t, opts)
	waitState(t, e, "site1", RegistrationRegistered, 5*time.Second)
	return e, rec
}

// BC-25, BC-26: an active subscription stored and restored into a fresh
// endpoint is ACTIVE at once and keeps working on the same dialog: the
// notifier's NOTIFYs are taken, the refresh comes when it was due, within
// the dialog and with the next CSeq, and unsubscribing works.
func TestStoreRestoreSubscription(t *testing.T) {
	n := startNotifier(t, "pw-1001", 60)
	clock := newFakeClock()
	port := freePort(t)
	e1, rec1 := subscriberOn(t, n, port, clock)
	s1, err := e1.Subscribe(SubscribeOptions{Expires: 120 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	rec1.waitFor(t, "active", summaryIs(n.summary))
	before := s1.Info()
	first := n.accepted()[0]

	if _, err := (&Subscription{rec: subscriptionRecord{State: SubscriptionPending}}).StorageSize(); !errors.Is(err, ErrSubscriptionState) {
		t.Fatalf("StorageSize of a pending subscription: %v", err)
	}
	buf := storeSubscription(t, s1)
	select {
	case <-s1.Done():
	default:
		t.Fatal("stored subscription not done")
	}
	if info := s1.Info(); info.State != SubscriptionTerminated || info.Reason != ReasonStored {
		t.Fatalf("after Store: %v %q", info.State, info.Reason)
	}
	if _, err := s1.Store(nil); !errors.Is(err, ErrSubscriptionState) {
		t.Fatalf("second Store: %v, want ErrSubscriptionState", err)
	}
	if len(e1.Subscriptions()) != 0 {
		t.Fatal("stored subscription still listed")
	}
	if err := e1.Close(); err != nil { // no unsubscribe for a stored one
		t.Fatal(err)
	}
	if got := len(n.accepted()); got != 1 {
		t.Fatalf("the notifier got %d SUBSCRIBEs by the store and close, want only the first", got)
	}

	e2, rec2 := subscriberOn(t, n, port, clock)
	s2, err := e2.RestoreSubscription(buf, nil)
	if err != nil {
		t.Fatalf("RestoreSubscription: %v", err)
	}
	if _, err := e2.RestoreSubscription(buf, nil); !errors.Is(err, ErrSubscriptionExists) {
		t.Fatalf("second restore: %v, want ErrSubscriptionExists", err)
	}
	info := s2.Info()
	if info.ID != before.ID || info.State != SubscriptionActive || !info.ExpiresAt.Equal(before.ExpiresAt) ||
		!info.NextAttempt.Equal(before.NextAttempt) || info.Content.(MessageSummary).String() != n.summary.String() {
		t.Fatalf("restored %+v, stored %+v", info, before)
	}
	rec2.waitFor(t, "restored reported", func(si SubscriptionInfo) bool { return si.ID == before.ID && si.State == SubscriptionActive })

	changed := MessageSummary{Counts: map[string]MessageCounts{"voice-message": {Old: 10}}}
	n.setSummary(changed)
	if code := n.notify("active;expires=60", true); code != 200 {
		t.Fatalf("NOTIFY to the restored subscription answered %d", code)
	}
	rec2.waitFor(t, "changed summary", summaryIs(changed))

	// The refresh was due 30 s after the grant of 60 s: the timer goes on.
	clock.Advance(before.NextAttempt.Sub(clock.Now()) - time.Second)
	time.Sleep(50 * time.Millisecond)
	if len(n.accepted()) != 1 {
		t.Fatal("refreshed before it was due")
	}
	clock.Advance(2 * time.Second)
	eventually(t, "refresh SUBSCRIBE", func() bool { return len(n.accepted()) == 2 })
	refresh := n.accepted()[1]
	if *refresh.CallID() != *first.CallID() || tag(refresh.From().Params) != tag(first.From().Params) ||
		tag(refresh.To().Params) == "" || refresh.CSeq().SeqNo <= first.CSeq().SeqNo {
		t.Fatalf("refresh %s not in the stored dialog after %s", refresh.StartLine()+" "+refresh.CSeq().Value(), first.CSeq().Value())
	}
	if err := s2.Unsubscribe(); err != nil {
		t.Fatalf("Unsubscribe: %v", err)
	}
	if last := n.accepted()[len(n.accepted())-1]; last.GetHeader("Expires").Value() != "0" || *last.CallID() != *first.CallID() {
		t.Fatal("unsubscribe not sent in the dialog")
	}
}

// BC-28: the golden subscription buffer of version 1 still decodes to
// the subscription it was written from, and restores as ACTIVE; its
// lifetime having run out, it subscribes afresh at once.
func TestGoldenSubscriptionBuffer(t *testing.T) {
	if *updateGolden {
		buf := appendSubscriptionBuffer(nil, goldenSubscription())
		if err := os.WriteFile(goldenSubV1, buf, 0o644); err != nil {
			t.Fatal(err)
		}
		writeSubFuzzSeed(t, "golden-v1", buf)
		writeSubFuzzSeed(t, "truncated-v1", buf[:len(buf)/2])
		call, err := os.ReadFile(goldenV1)
		if err != nil {
			t.Fatal(err)
		}
		writeSubFuzzSeed(t, "call-v1", call)
	}
	buf, err := os.ReadFile(goldenSubV1)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := decodeSubscriptionBuffer(buf)
	if err != nil {
		t.Fatalf("decode the golden buffer: %v", err)
	}
	if want := goldenSubscription(); !reflect.DeepEqual(rec, want) {
		t.Fatalf("golden buffer decodes to\n%+v\nwant\n%+v", rec, want)
	}

	n := startNotifier(t, "", 600)
	e, subs := startSubscriber(t, n, nil)
	s, err := e.RestoreSubscription(buf, nil)
	if err != nil {
		t.Fatalf("RestoreSubscription: %v", err)
	}
	if info := s.Info(); info.State != SubscriptionActive && info.State != SubscriptionSubscribing {
		t.Fatalf("restored golden subscription: %+v", info)
	}
	subs.waitFor(t, "content of the stored body", func(si SubscriptionInfo) bool {
		m, ok := si.Content.(MessageSummary)
		return ok && m.Voice() == MessageCounts{New: 2, Old: 8, UrgentOld: 2}
	})
	eventually(t, "a new SUBSCRIBE", func() bool { return len(n.accepted()) == 1 })
	if got := n.accepted()[0]; string(*got.CallID()) == rec.Dialog.CallID || tag(got.To().Params) != "" {
		t.Fatal("the run-out subscription was refreshed in its old dialog")
	}
	subs.waitFor(t, "active again", func(si SubscriptionInfo) bool { return si.State == SubscriptionActive && si.ID == rec.ID })
}

// BC-29: damaged, truncated and foreign subscription buffers give a
// clear error; a call buffer is no subscription buffer, and the other way
// round.
func TestBadSubscriptionBuffers(t *testing.T) {
	buf, err := os.ReadFile(goldenSubV1)
	if err != nil {
		t.Fatal(err)
	}
	for i := range len(buf) * 8 {
		bad := append([]byte(nil), buf...)
		bad[i/8] ^= 1 << (i % 8)
		if _, err := decodeSubscriptionBuffer(bad); err == nil {
			t.Fatalf("bit %d flipped: no error", i)
		}
	}
	for n := range len(buf) {
		_, err := decodeSubscriptionBuffer(buf[:n])
		want := ErrBufferTruncated
		if n < len(subMagic) {
			want = ErrBufferForeign
		}
		if !errors.Is(err, want) {
			t.Fatalf("truncated to %d bytes: %v, want %v", n, err, want)
		}
	}
	call, err := os.ReadFile(goldenV1)
	if err != nil {
		t.Fatal(err)
	}
	newer := append([]byte(nil), buf...)
	binary.BigEndian.PutUint16(newer[8:], subVersion+1)
	pending := goldenSubscription()
	pending.State = SubscriptionPending
	for _, tc := range []struct {
		name string
		buf  []byte
		want error
	}{
		{"empty", nil, ErrBufferForeign},
		{"call buffer", call, ErrBufferForeign},
		{"newer version", reseal(newer), ErrBufferVersion},
		{"trailing bytes", append(append([]byte(nil), buf...), 0), ErrBufferDamaged},
		{"not active", appendSubscriptionBuffer(nil, pending), ErrBufferDamaged},
	} {
		if _, err := decodeSubscriptionBuffer(tc.buf); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := decodeSubscriptionBuffer(call); err == nil || !strings.Contains(err.Error(), "a call buffer") {
		t.Errorf("a call buffer as a subscription: %v, want it named", err)
	}
	if _, err := decodeCallBuffer(buf); !errors.Is(err, ErrBufferForeign) || !strings.Contains(err.Error(), "a subscription buffer") {
		t.Errorf("a subscription buffer as a call: %v, want ErrBufferForeign naming it", err)
	}
	e, err := New(fastOptions(Account{Site: "site1", Registrar: "127.0.0.1:5060", User: "1001"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.RestoreSubscription(buf[:40], nil); !errors.Is(err, ErrBufferTruncated) {
		t.Fatalf("RestoreSubscription of a truncated buffer: %v", err)
	}
	if _, err := e.RestoreSubscription(buf, nil); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("RestoreSubscription before Start: %v", err)
	}
}

// BC-29: the decoder never panics, and what it accepts encodes and
// decodes to itself.
func FuzzDecodeSubscriptionBuffer(f *testing.F) {
	if buf, err := os.ReadFile(goldenSubV1); err == nil {
		f.Add(buf)
	}
	f.Fuzz(func(t *testing.T, buf []byte) {
		rec, err := decodeSubscriptionBuffer(buf)
		if err != nil {
			return
		}
		again, err := decodeSubscriptionBuffer(appendSubscriptionBuffer(nil, rec))
		if err != nil {
			t.Fatalf("re-encoded buffer refused: %v", err)
		}
		if !reflect.DeepEqual(again, rec) {
			t.Fatalf("round trip changed the subscription:\n%+v\n%+v", rec, again)
		}
	})
}

// BC-18, BC-30: Relaunch keeps an active subscription: the same one, in
// the same dialog, takes the notifier's NOTIFYs afterwards; nothing was
// unsubscribed or subscribed anew.
func TestRelaunchKeepsSubscription(t *testing.T) {
	n := startNotifier(t, "", 600)
	var relaunched []RelaunchEvent
	done := make(chan struct{})
	rec := &subRecorder{}
	opts := fastOptions(n.account())
	opts.OnEvent = func(ev Event) {
		rec.record(ev)
		if re, ok := ev.(RelaunchEvent); ok && re.Phase == RelaunchFinished {
			relaunched = append(relaunched, re)
			close(done)
		}
	}
	e, _ := startEndpoint(t, opts)
	waitState(t, e, "site1", RegistrationRegistered, 5*time.Second)
	s, err := e.Subscribe(SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "active", func(si SubscriptionInfo) bool { return si.State == SubscriptionActive })

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.Relaunch(ctx); err != nil {
		t.Fatalf("Relaunch: %v", err)
	}
	<-done
	if re := relaunched[0]; re.SubscriptionsRestored != 1 || re.SubscriptionsDropped != 0 || re.Err != nil {
		t.Fatalf("relaunch event %+v", re)
	}
	subs := e.Subscriptions()
	if len(subs) != 1 || subs[0].ID() != s.ID() || subs[0].Info().State != SubscriptionActive {
		t.Fatalf("after Relaunch: %d subscriptions", len(subs))
	}
	rec.reset()
	changed := MessageSummary{Waiting: true, Counts: map[string]MessageCounts{"voice-message": {New: 5}}}
	n.setSummary(changed)
	if code := n.notify("active;expires=600", true); code != sip.StatusOK {
		t.Fatalf("NOTIFY after Relaunch answered %d", code)
	}
	rec.waitFor(t, "NOTIFY after Relaunch", summaryIs(changed))
	if got := len(n.accepted()); got != 1 {
		t.Fatalf("the notifier got %d SUBSCRIBEs, want only the first", got)
	}
}

// BC-27: storing a call stores its ACTIVE transfer subscription. The
// transferor's call (our REFER, the target still ringing) is restored
// with its transfer pending, and the transferee's NOTIFY of the answer
// completes it in the fresh endpoint.
func TestStoreCallKeepsTransferSubscription(t *testing.T) {
	s := startSite(t, "site1.test", nil)
	a := newPhone(t, s, "1001", phoneOptions{})
	port := freePort(t)
	b := newPhone(t, s, "2001", phoneOptions{edit: func(o *Options) { o.ListenPort = port }})
	c := newPhone(t, s, "3001", phoneOptions{})
	ab, ba := connect(t, a, b)

	if err := ba.Transfer(c.uri()); err != nil {
		t.Fatal(err)
	}
	ca := c.incoming()
	waitCall(t, ba, "the target rings", func(i CallInfo) bool { return i.TransferCode == 180 })
	buf := storeCall(t, ba)
	rec, err := decodeCallBuffer(buf)
	if err != nil {
		t.Fatal(err)
	}
	if want := (referSubRecord{Role: referRoleSubscriber, Code: 180}); rec.Refer != want {
		t.Fatalf("stored transfer subscription %+v, want %+v", rec.Refer, want)
	}
	if err := b.ep.Close(); err != nil {
		t.Fatal(err)
	}

	b2 := newPhone(t, s, "2001", phoneOptions{edit: func(o *Options) { o.ListenPort = port }})
	ba2, err := b2.ep.RestoreCall(buf)
	if err != nil {
		t.Fatalf("RestoreCall: %v", err)
	}
	if i := ba2.Info(); i.Transfer != TransferPending || i.TransferCode != 180 {
		t.Fatalf("restored transfer %v %d, want pending 180", i.Transfer, i.TransferCode)
	}
	if err := ca.Answer(); err != nil {
		t.Fatal(err)
	}
	i := waitEnded(t, ba2, EndTransferred)
	if i.Transfer != TransferSucceeded || i.TransferCode != 200 {
		t.Fatalf("restored transferor: transfer %v code %d", i.Transfer, i.TransferCode)
	}
	waitEnded(t, ab, EndRemoteHangup)
}

// BC-27: the transferee's side of an active transfer subscription goes
// with its call too. The call placed for the REFER, still ringing, cannot
// go with it (it ends), and the restored call tells the transferor with
// the final NOTIFY it owes (487): the transfer fails and the call goes on.
// A subscription no longer active (the failed transfer) is not stored.
func TestStoreCallKeepsReferNotifier(t *testing.T) {
	s := startSite(t, "site1.test", nil)
	a := newPhone(t, s, "1001", phoneOptions{})
	port := freePort(t)
	b := newPhone(t, s, "2001", phoneOptions{edit: func(o *Options) { o.ListenPort = port }})
	c := newPhone(t, s, "3001", phoneOptions{})
	ab, ba := connect(t, a, b)

	if err := ab.Transfer(c.uri()); err != nil {
		t.Fatal(err)
	}
	cb := c.incoming()
	waitCall(t, ab, "the target rings", func(i CallInfo) bool { return i.TransferCode == 180 })
	buf := storeCall(t, ba)
	rec, err := decodeCallBuffer(buf)
	if err != nil {
		t.Fatal(err)
	}
	if want := (referSubRecord{Role: referRoleNotifier, Code: 180}); rec.Refer != want {
		t.Fatalf("stored transfer subscription %+v, want %+v", rec.Refer, want)
	}
	waitEnded(t, cb, EndCancelled)
	if err := b.ep.Close(); err != nil {
		t.Fatal(err)
	}

	b2 := newPhone(t, s, "2001", phoneOptions{edit: func(o *Options) { o.ListenPort = port }})
	ba2, err := b2.ep.RestoreCall(buf)
	if err != nil {
		t.Fatalf("RestoreCall: %v", err)
	}
	i := waitCall(t, ab, "transfer failed", func(i CallInfo) bool { return i.Transfer == TransferFailed })
	if i.TransferCode != sip.StatusRequestTerminated || i.State != CallConnected {
		t.Fatalf("transferor after the restore: %v code %d", i.State, i.TransferCode)
	}
	if st := ba2.Info().State; st != CallConnected {
		t.Fatalf("restored call %v", st)
	}

	// The transferor's transfer is over: its subscription is not stored.
	size, err := ab.StorageSize()
	if err != nil {
		t.Fatal(err)
	}
	abuf, err := ab.Store(make([]byte, 0, size))
	if err != nil {
		t.Fatal(err)
	}
	if rec, err := decodeCallBuffer(abuf); err != nil || rec.Refer != (referSubRecord{}) {
		t.Fatalf("a call whose transfer failed stored %+v (%v)", rec.Refer, err)
	}
}

// BC-27, BC-28: the transfer subscription is a field added to version 1
// of the call buffer: a call with one round-trips, the golden buffer
// (without one) still reads as before (TestGoldenBuffer), and a field
// that cannot be a transfer subscription is refused.
func TestCallBufferTransferSubscription(t *testing.T) {
	rec := goldenRecord()
	rec.Refer = referSubRecord{Role: referRoleNotifier, Code: 183}
	got, err := decodeCallBuffer(appendCallBuffer(nil, rec))
	if err != nil || got.Refer != rec.Refer {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for _, bad := range []referSubRecord{{Role: 3, Code: 180}, {Role: referRoleSubscriber, Code: 700}} {
		rec.Refer = bad
		if _, err := decodeCallBuffer(appendCallBuffer(nil, rec)); !errors.Is(err, ErrBufferDamaged) {
			t.Errorf("transfer subscription %+v: %v, want ErrBufferDamaged", bad, err)
		}
	}
}
