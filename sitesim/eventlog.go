package sitesim

import (
	"sync"
	"time"

	"github.com/tandem-softphone/tandem/sitesim/tsim"
	"github.com/tandem-softphone/tandem/wire"
)

// LogEntry is one T-Server event in the simulator's event log.
type LogEntry struct {
	Seq        uint64         `json:"seq"` // 1, 2, …; never reused
	Time       time.Time      `json:"time"`
	Site       int            `json:"site"`
	Event      string         `json:"event"`            // EventAgentLogout, EventError, …
	RefID      uint32         `json:"ref_id,omitempty"` // the request's, for an answer
	Member     string         `json:"member,omitempty"` // the T-Server member that answered
	DN         string         `json:"dn,omitempty"`
	AgentID    string         `json:"agent_id,omitempty"`
	ReasonCode string         `json:"reason_code,omitempty"` // from Extensions, else Reasons
	Attrs      map[string]any `json:"attrs"`
}

// eventLog is a bounded ring of entries that followers can wait on.
type eventLog struct {
	now func() time.Time

	mu     sync.Mutex
	ring   []LogEntry
	head   int // index of the oldest entry
	n      int
	next   uint64        // the Seq of the next entry
	wake   chan struct{} // closed and replaced on every add
	closed bool
}

func newEventLog(size int, now func() time.Time) *eventLog {
	return &eventLog{now: now, ring: make([]LogEntry, size), next: 1, wake: make(chan struct{})}
}

// add records one event; the oldest entry goes when the ring is full.
func (l *eventLog) add(e tsim.Event) {
	a := e.Msg.Attrs
	rc := a.List(wire.AttrExtensions).String(wire.AttrReasonCode)
	if rc == "" {
		rc = a.List(wire.AttrReasons).String(wire.AttrReasonCode)
	}
	entry := LogEntry{
		Time:       l.now(),
		Site:       e.Site,
		Event:      e.Msg.Name,
		RefID:      e.Msg.RefID,
		Member:     e.Member,
		DN:         a.String(wire.AttrThisDN),
		AgentID:    a.String(wire.AttrAgentID),
		ReasonCode: rc,
		Attrs:      jsonAttrs(a.Redacted()),
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	entry.Seq = l.next
	l.next++
	if l.n < len(l.ring) {
		l.ring[(l.head+l.n)%len(l.ring)] = entry
		l.n++
	} else {
		l.ring[l.head] = entry
		l.head = (l.head + 1) % len(l.ring)
	}
	close(l.wake)
	l.wake = make(chan struct{})
}

// since returns the entries after seq, the Seq of the oldest entry kept
// (entries before it are lost), a channel closed when more arrive, and
// whether the log is closed.
func (l *eventLog) since(seq uint64) (out []LogEntry, oldest uint64, wake <-chan struct{}, closed bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	oldest = l.next - uint64(l.n)
	for i := 0; i < l.n; i++ {
		e := l.ring[(l.head+i)%len(l.ring)]
		if e.Seq > seq {
			out = append(out, e)
		}
	}
	return out, oldest, l.wake, l.closed
}

// last is the Seq of the newest entry (0 when none).
func (l *eventLog) last() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.next - 1
}

// close wakes the followers for the last time.
func (l *eventLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		close(l.wake)
	}
}

// jsonAttrs turns attributes into a JSON object: the first value of a
// repeated key, nested lists as objects, octets as base64.
func jsonAttrs(l wire.KVList) map[string]any {
	m := make(map[string]any, len(l))
	for _, p := range l {
		if _, dup := m[p.Key]; dup {
			continue
		}
		if v, ok := p.Value.(wire.KVList); ok {
			m[p.Key] = jsonAttrs(v)
		} else {
			m[p.Key] = p.Value
		}
	}
	return m
}
