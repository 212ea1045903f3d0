package sitesim

import (
	"strconv"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/sitesim/tsim"
	"github.com/tandem-softphone/tandem/wire"
)

func TestEventLogRing(t *testing.T) {
	at := time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC)
	l := newEventLog(3, func() time.Time { return at })
	if got, oldest, _, _ := l.since(0); len(got) != 0 || oldest != 1 || l.last() != 0 {
		t.Fatalf("empty log: %v, oldest %d, last %d", got, oldest, l.last())
	}
	_, _, wake, _ := l.since(0)
	for i := range 5 {
		l.add(tsim.Event{Site: 2, Msg: wire.Message{Name: wire.EventAgentLogout, Attrs: wire.KVList{}.
			Add(wire.AttrThisDN, strconv.Itoa(6001+i)).
			Add(wire.AttrPassword, "never-logged").
			Add(wire.AttrReasons, wire.KVList{}.Add(wire.AttrReasonCode, "rc"))}})
	}
	select {
	case <-wake:
	default:
		t.Fatal("adding did not wake the followers")
	}
	got, oldest, _, closed := l.since(0)
	if len(got) != 3 || oldest != 3 || got[0].Seq != 3 || got[2].Seq != 5 || l.last() != 5 || closed {
		t.Fatalf("after 5 adds to a ring of 3: %+v, oldest %d", got, oldest)
	}
	e := got[2]
	if e.DN != "6005" || e.Site != 2 || e.ReasonCode != "rc" || !e.Time.Equal(at) || e.Attrs[wire.AttrPassword] != "***" {
		t.Fatalf("entry %+v", e)
	}
	if got, _, _, _ := l.since(4); len(got) != 1 || got[0].Seq != 5 {
		t.Fatalf("since 4: %+v", got)
	}
	l.close()
	_, _, wake, closed = l.since(5)
	select {
	case <-wake:
	default:
		t.Fatal("close did not wake the followers")
	}
	l.add(tsim.Event{Msg: wire.Message{Name: wire.EventError}})
	if !closed || l.last() != 5 {
		t.Fatalf("closed %v, last %d after an add to a closed log", closed, l.last())
	}
}

// Repeated keys keep their first value, as KVList.Get does; nested lists
// become objects.
func TestJSONAttrs(t *testing.T) {
	m := jsonAttrs(wire.KVList{}.
		Add("A", "first").Add("A", "second").
		Add("N", int64(7)).
		Add("L", wire.KVList{}.Add("K", "v")))
	if m["A"] != "first" || m["N"] != int64(7) || m["L"].(map[string]any)["K"] != "v" {
		t.Fatalf("jsonAttrs %v", m)
	}
}
