package headless

import (
	"github.com/tandem-softphone/tandem/sipua"

	"encoding/json"
	"time"

	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/core"
)

// emitFunc writes one event line: the event's name, then its fields as
// alternating keys and values, in that order.
type emitFunc func(event string, kv ...any)

// differ turns successive snapshots into event lines: one per change.
// Snapshots coalesce, so a state that flips and flips back between two of
// them shows no line; notices and timelines are lists and never lose one.
type differ struct {
	prev core.State
}

// baseline makes a differ for an output that joins while the core runs: it
// reports the current state, but not the notices and timelines of before.
func baseline(cur core.State) differ {
	return differ{prev: core.State{Notices: cur.Notices, Timelines: cur.Timelines}}
}

func serviceName(s core.ServiceStatus) string {
	if s == core.ServiceNone {
		return "none"
	}
	return string(s)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (d *differ) diff(cur core.State, now time.Time, emit emitFunc) {
	p := d.prev
	if cur.Phase != p.Phase || cur.Site != p.Site {
		emit("phase", "phase", cur.Phase.String(), "site", cur.Site)
	}
	if cur.Agent != p.Agent && cur.Agent.State != "" {
		emit("agent", "state", cur.Agent.State, "reason", cur.Agent.Reason, "site", cur.Site,
			"agent_id", cur.Agent.ID, "dn", cur.Agent.DN, "place", cur.Agent.Place)
	}
	for i := range cur.Sites {
		c, o := cur.Sites[i], p.Sites[i]
		if c.SIP != o.SIP {
			emit("registration", "site", i+1, "state", c.SIP.State, "code", c.SIP.Code, "reason", c.SIP.Reason)
		}
		for _, s := range []struct {
			name     string
			cur, old core.ServiceStatus
		}{
			{continuity.Telephony.String(), c.Telephony, o.Telephony},
			{continuity.Configuration.String(), c.Configuration, o.Configuration},
			{continuity.Statistic.String(), c.Statistic, o.Statistic},
		} {
			if s.cur != s.old {
				emit("service", "site", i+1, "service", s.name, "status", serviceName(s.cur))
			}
		}
	}
	if cur.Statistic.Known && cur.Statistic != p.Statistic {
		emit("statistic", "name", cur.Statistic.Name, "value", cur.Statistic.Value)
	}
	if cur.LoginError != p.LoginError && cur.LoginError.Kind != "" {
		emit("login-failed", "kind", string(cur.LoginError.Kind), "error", cur.LoginError.Text)
	}
	var lastSeq uint64
	if n := len(p.Notices); n > 0 {
		lastSeq = p.Notices[n-1].Seq
	}
	for _, n := range cur.Notices {
		if n.Seq > lastSeq {
			emit("notice", "level", n.Level.String(), "site", n.Site, "text", n.Text)
		}
	}
	d.calls(cur, p, emit)
	d.countdowns(cur.Countdowns, p.Countdowns, now, emit)
	for i, t := range cur.Timelines {
		var old continuity.Timeline
		if i < len(p.Timelines) {
			old = p.Timelines[i]
		} else {
			emit(t.Kind+"-started", "from", t.From, "to", t.To, "reason", t.Trigger)
		}
		if !t.Finished.IsZero() && old.Finished.IsZero() {
			steps := make([]map[string]any, len(t.Steps))
			for j, s := range t.Steps {
				steps[j] = map[string]any{"step": s.Name, "ms": ms(s.At.Sub(t.Started))}
			}
			emit(t.Kind+"-finished", "from", t.From, "to", t.To, "reason", t.Trigger,
				"ok", t.Err == "", "error", t.Err, "duration_ms", ms(t.Duration()), "steps", steps)
		}
	}
	d.prev = cur
}

// calls emits a "call" line for every call that appeared or changed, and
// for every call that ended (with how it ended).
func (d *differ) calls(cur, prev core.State, emit emitFunc) {
	old := map[string]sipua.CallInfo{}
	for _, c := range prev.Calls {
		old[c.ID] = c
	}
	line := func(c sipua.CallInfo) {
		kv := []any{"id", c.ID, "direction", c.Direction.String(), "site", c.Site, "peer", c.PeerURI,
			"peer_name", c.PeerName, "state", c.State.String(), "local_hold", c.LocalHold,
			"remote_hold", c.RemoteHold, "muted", c.Muted}
		if c.State == sipua.CallEnded {
			kv = append(kv, "end", c.EndReason.String(), "code", c.Code, "reason", c.Reason)
		}
		emit("call", kv...)
	}
	for _, c := range cur.Calls {
		o, seen := old[c.ID]
		if !seen || o.State != c.State || o.LocalHold != c.LocalHold || o.RemoteHold != c.RemoteHold || o.Muted != c.Muted {
			line(c)
		}
	}
	ended := map[string]bool{}
	for _, c := range prev.CallHistory {
		ended[c.ID] = true
	}
	for _, c := range cur.CallHistory {
		if !ended[c.ID] {
			line(c)
		}
	}
}

func (d *differ) countdowns(cur, old []core.Countdown, now time.Time, emit emitFunc) {
	find := func(l []core.Countdown, what string) (core.Countdown, bool) {
		for _, c := range l {
			if c.What == what {
				return c, true
			}
		}
		return core.Countdown{}, false
	}
	for _, c := range cur {
		if o, ok := find(old, c.What); !ok || !o.At.Equal(c.At) {
			emit("countdown", "what", c.What, "at", c.At.Format(time.RFC3339Nano), "in_ms", ms(c.At.Sub(now)))
		}
	}
	for _, o := range old {
		if _, ok := find(cur, o.What); !ok {
			emit("countdown-cleared", "what", o.What)
		}
	}
}

// The "state" command's answer: the whole snapshot.
type stateView struct {
	User       string          `json:"user"`
	Phase      string          `json:"phase"`
	Site       int             `json:"site"`
	Preferred  int             `json:"preferred"`
	Agent      agentView       `json:"agent"`
	Sites      []siteView      `json:"sites"`
	Statistic  *statisticView  `json:"statistic,omitempty"`
	Countdowns []countdownView `json:"countdowns"`
	LoginError *loginErrorView `json:"login_error,omitempty"`
	Timelines  []timelineView  `json:"timelines"`
}

type agentView struct {
	ID     string `json:"agent_id"`
	DN     string `json:"dn"`
	Place  string `json:"place"`
	State  string `json:"state"`
	Reason string `json:"reason"`
}

type siteView struct {
	Site          int              `json:"site"`
	Name          string           `json:"name"`
	Registration  registrationView `json:"registration"`
	Telephony     string           `json:"telephony"`
	Configuration string           `json:"configuration"`
	Statistic     string           `json:"statistic"`
}

type registrationView struct {
	State  string `json:"state"`
	Code   int    `json:"code"`
	Reason string `json:"reason"`
}

type statisticView struct {
	Name  string `json:"name"`
	Value int64  `json:"value"`
}

type countdownView struct {
	What string    `json:"what"`
	At   time.Time `json:"at"`
}

type loginErrorView struct {
	Kind  string `json:"kind"`
	Error string `json:"error"`
}

type timelineView struct {
	Kind       string  `json:"kind"`
	From       int     `json:"from"`
	To         int     `json:"to"`
	Reason     string  `json:"reason"`
	Started    string  `json:"started"`
	DurationMS float64 `json:"duration_ms,omitempty"`
	Finished   bool    `json:"finished"`
	Error      string  `json:"error,omitempty"`
}

func viewOf(s core.State) stateView {
	v := stateView{
		User:       s.User,
		Phase:      s.Phase.String(),
		Site:       s.Site,
		Preferred:  s.Preferred,
		Agent:      agentView(s.Agent),
		Countdowns: []countdownView{},
		Timelines:  []timelineView{},
	}
	for i, st := range s.Sites {
		v.Sites = append(v.Sites, siteView{
			Site:          i + 1,
			Name:          st.Name,
			Registration:  registrationView(st.SIP),
			Telephony:     serviceName(st.Telephony),
			Configuration: serviceName(st.Configuration),
			Statistic:     serviceName(st.Statistic),
		})
	}
	if s.Statistic.Known {
		v.Statistic = &statisticView{Name: s.Statistic.Name, Value: s.Statistic.Value}
	}
	for _, c := range s.Countdowns {
		v.Countdowns = append(v.Countdowns, countdownView(c))
	}
	if s.LoginError.Kind != "" {
		v.LoginError = &loginErrorView{Kind: string(s.LoginError.Kind), Error: s.LoginError.Text}
	}
	for _, t := range s.Timelines {
		v.Timelines = append(v.Timelines, timelineView{
			Kind: t.Kind, From: t.From, To: t.To, Reason: t.Trigger,
			Started:    t.Started.Format(time.RFC3339Nano),
			DurationMS: ms(t.Duration()),
			Finished:   !t.Finished.IsZero(),
			Error:      t.Err,
		})
	}
	return v
}

// encodeLine renders one event line: {"time":…,"event":…, then the fields
// in order}. A value that cannot be encoded becomes its error text.
func encodeLine(now time.Time, event string, kv []any) []byte {
	b := []byte(`{"time":`)
	b = appendJSON(b, now.Format(time.RFC3339Nano))
	b = append(b, `,"event":`...)
	b = appendJSON(b, event)
	for i := 0; i+1 < len(kv); i += 2 {
		k, _ := kv[i].(string)
		b = append(b, ',')
		b = appendJSON(b, k)
		b = append(b, ':')
		b = appendJSON(b, kv[i+1])
	}
	return append(b, '}', '\n')
}

func appendJSON(b []byte, v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		data, _ = json.Marshal(err.Error())
	}
	return append(b, data...)
}
