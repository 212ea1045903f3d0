package headless

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/core"
	"github.com/tandem-softphone/tandem/sipua"
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

// baseline makes a differ for an output that starts while the core runs:
// the calls already in the history are not news (the "state" answer lists
// them), and an output that joins later (joining) is not told the notices
// and timelines of before either.
func baseline(cur core.State, joining bool) differ {
	prev := core.State{CallHistory: cur.CallHistory}
	if joining {
		prev.Notices, prev.Timelines = cur.Notices, cur.Timelines
	}
	return differ{prev: prev}
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
		emit("statistic", "name", cur.Statistic.Name, "value", cur.Statistic.Value, "site", cur.Statistic.Site)
	}
	if cur.Voicemail != p.Voicemail {
		// Site 0: no voicemail server reports a count (any more).
		vm := voicemailOf(cur.Voicemail)
		emit("voicemail", "new", vm.New, "old", vm.Old, "waiting", vm.Waiting, "site", vm.Site)
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
	if !slices.EqualFunc(cur.SavedCalls, p.SavedCalls, func(a, b core.SavedCall) bool { return a.ID == b.ID }) {
		emit("saved-calls", "calls", savedViews(cur.SavedCalls))
	}
	d.countdowns(cur.Countdowns, p.Countdowns, now, emit)
	// The state keeps the last core.MaxTimelines: a timeline is known by
	// its start, not by its place in the list.
	type timelineKey struct {
		kind    string
		started time.Time
	}
	before := make(map[timelineKey]continuity.Timeline, len(p.Timelines))
	for _, t := range p.Timelines {
		before[timelineKey{t.Kind, t.Started}] = t
	}
	for _, t := range cur.Timelines {
		old, seen := before[timelineKey{t.Kind, t.Started}]
		if !seen {
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
	// A call ends more than once when a re-launch stores it (and it goes
	// on): an end is known by the call and its time.
	type end struct {
		id string
		at time.Time
	}
	ended := map[end]bool{}
	for _, c := range prev.CallHistory {
		ended[end{c.ID, c.Ended}] = true
	}
	for _, c := range cur.CallHistory {
		if !ended[end{c.ID, c.Ended}] {
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
	Voicemail  *voicemailView  `json:"voicemail,omitempty"`
	Countdowns []countdownView `json:"countdowns"`
	LoginError *loginErrorView `json:"login_error,omitempty"`
	Timelines  []timelineView  `json:"timelines"`
	Calls      []callView      `json:"calls"`
	SavedCalls []savedView     `json:"saved_calls"`
	History    []historyView   `json:"history"`
}

// historyView is an ended call of the history, oldest first.
type historyView struct {
	ID        string `json:"id"`
	Direction string `json:"direction"`
	Site      string `json:"site"`
	Peer      string `json:"peer"`
	PeerName  string `json:"peer_name"`
	Started   string `json:"started"`
	Answered  string `json:"answered,omitempty"`
	Ended     string `json:"ended"`
	End       string `json:"end"`
	Code      int    `json:"code"`
}

func historyViews(l []sipua.CallInfo) []historyView {
	at := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Format(time.RFC3339Nano)
	}
	out := make([]historyView, 0, len(l))
	for _, c := range l {
		out = append(out, historyView{ID: c.ID, Direction: c.Direction.String(), Site: c.Site, Peer: c.PeerURI,
			PeerName: c.PeerName, Started: at(c.Created), Answered: at(c.Answered), Ended: at(c.Ended),
			End: c.EndReason.String(), Code: c.Code})
	}
	return out
}

// callView is a call in progress, with its media counters.
type callView struct {
	ID         string `json:"id"`
	Direction  string `json:"direction"`
	Site       string `json:"site"`
	Peer       string `json:"peer"`
	State      string `json:"state"`
	LocalHold  bool   `json:"local_hold"`
	RemoteHold bool   `json:"remote_hold"`
	Muted      bool   `json:"muted"`
	Codec      string `json:"codec,omitempty"`
	// PacketsSent and PacketsReceived count the call's RTP packets.
	PacketsSent     uint64 `json:"packets_sent"`
	PacketsReceived uint64 `json:"packets_received"`
}

// savedView is a call an earlier run left connected (BC-30).
type savedView struct {
	ID        string `json:"id"`
	Site      int    `json:"site"`
	Direction string `json:"direction"`
	Peer      string `json:"peer"`
	PeerName  string `json:"peer_name"`
	Since     string `json:"since"`
}

func savedViews(l []core.SavedCall) []savedView {
	out := make([]savedView, 0, len(l))
	for _, sc := range l {
		out = append(out, savedView{ID: sc.ID, Site: sc.Site, Direction: sc.Direction.String(), Peer: sc.Peer,
			PeerName: sc.PeerName, Since: sc.Since.Format(time.RFC3339Nano)})
	}
	return out
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
	Site  int    `json:"site"`
}

// voicemailView is the agent's voice messages as a site's voicemail
// server reports them (message-summary); Site 0 when none does.
type voicemailView struct {
	New     int  `json:"new"`
	Old     int  `json:"old"`
	Waiting bool `json:"waiting"`
	Site    int  `json:"site"`
}

func voicemailOf(vm core.Voicemail) voicemailView {
	if !vm.Known {
		return voicemailView{}
	}
	return voicemailView{New: vm.New, Old: vm.Old, Waiting: vm.Waiting, Site: vm.Site}
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
		v.Statistic = &statisticView{Name: s.Statistic.Name, Value: s.Statistic.Value, Site: s.Statistic.Site}
	}
	if s.Voicemail.Known {
		vm := voicemailOf(s.Voicemail)
		v.Voicemail = &vm
	}
	for _, c := range s.Countdowns {
		v.Countdowns = append(v.Countdowns, countdownView(c))
	}
	if s.LoginError.Kind != "" {
		v.LoginError = &loginErrorView{Kind: string(s.LoginError.Kind), Error: s.LoginError.Text}
	}
	v.Calls = []callView{}
	for _, c := range s.Calls {
		v.Calls = append(v.Calls, callView{
			ID: c.ID, Direction: c.Direction.String(), Site: c.Site, Peer: c.PeerURI, State: c.State.String(),
			LocalHold: c.LocalHold, RemoteHold: c.RemoteHold, Muted: c.Muted, Codec: c.Media.Codec,
			PacketsSent: c.Media.Stats.PacketsSent, PacketsReceived: c.Media.Stats.PacketsReceived,
		})
	}
	v.SavedCalls = savedViews(s.SavedCalls)
	v.History = historyViews(s.CallHistory)
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
