package statsim

import (
	"errors"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/internal/testutil"
	"github.com/tandem-softphone/tandem/link"
	"github.com/tandem-softphone/tandem/wire"
)

func start(t *testing.T) *Pair {
	t.Helper()
	get := func(agent, typ string) (int64, bool) { return 42, agent == "5320" }
	p := New(Options{Site: 1, PrimaryAddr: "127.0.0.1:0", BackupAddr: "127.0.0.1:0",
		Link: link.Options{Logger: testutil.Quiet()}, Value: get, Interval: 10 * time.Millisecond})
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func dial(t *testing.T, addr string, events chan<- wire.Message) *link.Conn {
	t.Helper()
	c, err := link.Dial(testutil.Context(t), addr, link.Options{Logger: testutil.Quiet(), Handler: func(_ *link.Conn, m wire.Message) {
		if events != nil {
			events <- m
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func open(id any, typ, agent string) wire.Message {
	attrs := wire.KVList{}.Add(wire.AttrStatisticType, typ).Add(wire.AttrObjectID, agent)
	if id != nil {
		attrs = attrs.Add(wire.AttrStatisticID, id)
	}
	return wire.Message{Name: wire.RequestOpenStatistic, Attrs: attrs}
}

func wantCode(t *testing.T, err error, code int64) {
	t.Helper()
	var re *link.RemoteError
	if !errors.As(err, &re) || re.Code != code {
		t.Fatalf("error %v, want code %d", err, code)
	}
}

func TestOpenAndInfo(t *testing.T) {
	p := start(t)
	primary, _ := p.Addrs()
	events := make(chan wire.Message, 16)
	c := dial(t, primary, events)
	// Without a StatisticID the server picks one.
	ans, err := c.Request(testutil.Context(t), open(nil, wire.StatCallsHandledToday, "5320"))
	if err != nil {
		t.Fatal(err)
	}
	id, ok := ans.Attrs.Int(wire.AttrStatisticID)
	if ans.Name != wire.EventStatisticOpened || !ok || id == 0 {
		t.Fatalf("answer %v", ans)
	}
	select {
	case m := <-events:
		v, _ := m.Attrs.Int(wire.AttrStatValue)
		got, _ := m.Attrs.Int(wire.AttrStatisticID)
		if m.Name != wire.EventStatisticInfo || m.RefID != 0 || got != id || v != 42 ||
			m.Attrs.String(wire.AttrStatisticType) != wire.StatCallsHandledToday || m.Attrs.String(wire.AttrObjectID) != "5320" {
			t.Fatalf("info %v", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no EventStatisticInfo")
	}
	// The server's choice avoids IDs in use; the client's own ID is kept.
	if _, err := c.Request(testutil.Context(t), open(int64(id+1), wire.StatLoginTimeToday, "5320")); err != nil {
		t.Fatal(err)
	}
	ans, err = c.Request(testutil.Context(t), open(nil, wire.StatLoginTimeToday, "5320"))
	if err != nil {
		t.Fatal(err)
	}
	if id3, _ := ans.Attrs.Int(wire.AttrStatisticID); id3 == id || id3 == id+1 {
		t.Fatalf("server picked an ID in use: %d", id3)
	}
	if n := p.OpenStatistics(); n != 3 {
		t.Fatalf("%d open, want 3", n)
	}
}

func TestOpenErrors(t *testing.T) {
	p := start(t)
	primary, _ := p.Addrs()
	c := dial(t, primary, nil)
	_, err := c.Request(testutil.Context(t), open(int64(1), "Bogus", "5320"))
	wantCode(t, err, wire.ErrCodeInvalidAttribute)
	_, err = c.Request(testutil.Context(t), open(int64(1), wire.StatCallsHandledToday, "9999"))
	wantCode(t, err, wire.ErrCodeNotFound)
	_, err = c.Request(testutil.Context(t), open("1", wire.StatCallsHandledToday, "5320"))
	wantCode(t, err, wire.ErrCodeInvalidAttribute)
	// The same ID for the same statistic is answered again; for another, refused.
	for range 2 {
		if _, err := c.Request(testutil.Context(t), open(int64(7), wire.StatCallsHandledToday, "5320")); err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.Request(testutil.Context(t), open(int64(7), wire.StatLoginTimeToday, "5320"))
	wantCode(t, err, wire.ErrCodeInvalidAttribute)
	if n := p.OpenStatistics(); n != 1 {
		t.Fatalf("%d open, want 1", n)
	}
	_, err = c.Request(testutil.Context(t), wire.Message{Name: "RequestPeekStatistic"})
	wantCode(t, err, wire.ErrCodeUnknownRequest)
}

func TestClose(t *testing.T) {
	p := start(t)
	primary, _ := p.Addrs()
	c := dial(t, primary, nil)
	if _, err := c.Request(testutil.Context(t), open(int64(3), wire.StatCallsHandledToday, "5320")); err != nil {
		t.Fatal(err)
	}
	closeReq := wire.Message{Name: wire.RequestCloseStatistic, Attrs: wire.KVList{}.Add(wire.AttrStatisticID, int64(3))}
	ans, err := c.Request(testutil.Context(t), closeReq)
	if err != nil || ans.Name != wire.EventStatisticClosed {
		t.Fatalf("close: %v %v", ans, err)
	}
	_, err = c.Request(testutil.Context(t), closeReq)
	wantCode(t, err, wire.ErrCodeNotFound)
	_, err = c.Request(testutil.Context(t), wire.Message{Name: wire.RequestCloseStatistic})
	wantCode(t, err, wire.ErrCodeInvalidAttribute)
	if n := p.OpenStatistics(); n != 0 {
		t.Fatalf("%d open, want 0", n)
	}
}

// A link's statistics go with it.
func TestLinkLossClosesStatistics(t *testing.T) {
	p := start(t)
	primary, _ := p.Addrs()
	c := dial(t, primary, nil)
	if _, err := c.Request(testutil.Context(t), open(int64(1), wire.StatCallsHandledToday, "5320")); err != nil {
		t.Fatal(err)
	}
	c.Close()
	testutil.Eventually(t, "statistics closed with their link", func() bool { return p.OpenStatistics() == 0 })
}

func TestStatisticsPerLinkBounded(t *testing.T) {
	p := start(t)
	primary, _ := p.Addrs()
	c := dial(t, primary, nil)
	for i := range maxStatsPerLink {
		if _, err := c.Request(testutil.Context(t), open(int64(i+1), wire.StatCallsHandledToday, "5320")); err != nil {
			t.Fatal(err)
		}
	}
	_, err := c.Request(testutil.Context(t), open(nil, wire.StatCallsHandledToday, "5320"))
	wantCode(t, err, wire.ErrCodeInvalidAttribute)
}
