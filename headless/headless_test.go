package headless

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/config"
	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/core"
	"github.com/tandem-softphone/tandem/internal/testutil"
	"github.com/tandem-softphone/tandem/sipua"
)

func TestParseCommand(t *testing.T) {
	for _, tc := range []struct {
		line, err string
		want      Command
	}{
		{line: `{"cmd":"ready"}`, want: Command{Cmd: CmdReady}},
		{line: `{"cmd":"not-ready","reason":"Break","id":"a"}`, want: Command{Cmd: CmdNotReady, Reason: "Break", ID: json.RawMessage(`"a"`)}},
		{line: `{"cmd":"expire-registration","site":2}`, want: Command{Cmd: CmdExpireRegistration, Site: 2}},
		{line: `{"cmd":"relaunch"}`, want: Command{Cmd: CmdRelaunch}},
		{line: `{"cmd":"login","site":2}`, want: Command{Cmd: CmdLogin, Site: 2}},
		{line: `{"cmd":"login","site":3}`, err: "is 1 or 2", want: Command{Cmd: CmdLogin}},
		{line: `{"cmd":"expire-registration"}`, err: "needs \"site\"", want: Command{Cmd: CmdExpireRegistration}},
		{line: `{"cmd":"ready","site":1}`, err: "takes no", want: Command{Cmd: CmdReady}},
		{line: `{"cmd":"dial"}`, err: "needs \"number\"", want: Command{Cmd: CmdDial}},
		{line: `{"cmd":"dial","number":"9000"}`, want: Command{Cmd: CmdDial, Number: "9000"}},
		{line: `{"cmd":"hangup","call":"c1"}`, want: Command{Cmd: CmdHangup, Call: "c1"}},
		{line: `{"cmd":"hangup"}`, err: "needs \"call\"", want: Command{Cmd: CmdHangup}},
		{line: `{"cmd":"mute","call":"c1"}`, err: "needs \"on\"", want: Command{Cmd: CmdMute}},
		{line: `{"cmd":"dtmf","call":"c1"}`, err: "needs \"digits\"", want: Command{Cmd: CmdDTMF}},
		{line: `{"cmd":"dtmf","call":"c1","digits":"12#"}`, want: Command{Cmd: CmdDTMF, Call: "c1", Digits: "12#"}},
		{line: `{"cmd":"transfer","call":"c1"}`, err: "needs \"target\"", want: Command{Cmd: CmdTransfer}},
		{line: `{"cmd":"restore-saved-calls","id":3}`, want: Command{Cmd: CmdRestoreSavedCalls, ID: json.RawMessage(`3`)}},
		{line: `{"cmd":"discard-saved-calls"}`, want: Command{Cmd: CmdDiscardSavedCalls}},
		{line: `{"cmd":"discard-saved-calls","calls":1}`, err: "unknown field", want: Command{}},
		{line: `{"cmd":"frobnicate"}`, err: "unknown cmd", want: Command{Cmd: "frobnicate"}},
		{line: `{"cmd":"ready","sitee":1}`, err: "unknown field"},
		{line: `{"cmd":"ready"} {"cmd":"quit"}`, err: "one command object per line"},
		{line: `ready`, err: "not a command object"},
	} {
		got, err := ParseCommand([]byte(tc.line))
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: error %v, want %q", tc.line, err, tc.err)
		}
		if got.Cmd != tc.want.Cmd || got.Reason != tc.want.Reason || got.Site != tc.want.Site || !bytes.Equal(got.ID, tc.want.ID) ||
			got.Number != tc.want.Number || got.Call != tc.want.Call || got.Digits != tc.want.Digits {
			t.Errorf("%s: %+v, want %+v", tc.line, got, tc.want)
		}
	}
}

// FuzzParseCommand: any line is refused or gives a known command, never a
// crash; a refused command never carries the password back.
func FuzzParseCommand(f *testing.F) {
	f.Fuzz(func(t *testing.T, line []byte) {
		c, err := ParseCommand(line)
		if err != nil {
			if c.Password != "" {
				t.Fatal("a refused command kept its password")
			}
			return
		}
		if !slices.Contains(commands, c.Cmd) {
			t.Fatalf("accepted unknown cmd %q", c.Cmd)
		}
		if c.Site < 0 || c.Site > 2 {
			t.Fatalf("accepted site %d", c.Site)
		}
	})
}

// lines collects emitted lines as "event k=v …" strings.
type lines []string

func (l *lines) emit(event string, kv ...any) {
	var b strings.Builder
	b.WriteString(event)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i] == "steps" || kv[i] == "in_ms" || kv[i] == "at" || kv[i] == "duration_ms" {
			continue
		}
		b.WriteString(" ")
		b.WriteString(kv[i].(string))
		b.WriteString("=")
		data, _ := json.Marshal(kv[i+1])
		b.Write(data)
	}
	*l = append(*l, b.String())
}

// The differ reports each change once, and lists never lose an entry.
func TestDiff(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var d differ
	var got lines
	st := core.State{Phase: continuity.LoggedIn, Site: 1}
	st.Agent = core.Agent{ID: "1001", DN: "5001", State: "Ready"}
	st.Sites[0].SIP = core.Registration{State: "registered", Code: 200, Reason: "OK"}
	st.Sites[0].Telephony = core.ServiceOn
	st.Notices = []core.Notice{{Seq: 1, Level: continuity.Info, Site: 1, Text: "logged in at site 1"}}
	st.Timelines = []continuity.Timeline{{Kind: "login", Trigger: "start", To: 1, Started: t0, Finished: t0.Add(time.Millisecond)}}
	d.diff(st, t0, got.emit)
	want := lines{
		`phase phase="logged-in" site=1`,
		`agent state="Ready" reason="" site=1 agent_id="1001" dn="5001" place=""`,
		`registration site=1 state="registered" code=200 reason="OK"`,
		`service site=1 service="telephony" status="on"`,
		`notice level="info" site=1 text="logged in at site 1"`,
		`login-started from=0 to=1 reason="start"`,
		`login-finished from=0 to=1 reason="start" ok=true error=""`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("first diff:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	got = nil
	d.diff(st, t0, got.emit)
	if len(got) != 0 {
		t.Fatalf("no change gave %q", got)
	}

	next := st
	next.Sites[0].Telephony = core.ServiceOff
	next.Notices = append(slices.Clone(st.Notices), core.Notice{Seq: 2, Level: continuity.Alarm, Site: 1, Text: "down"})
	next.Countdowns = []core.Countdown{{What: "switchover", At: t0.Add(time.Second)}}
	next.Timelines = append(slices.Clone(st.Timelines), continuity.Timeline{Kind: "switchover", Trigger: "x", From: 1, To: 2, Started: t0})
	d.diff(next, t0, got.emit)
	want = lines{
		`service site=1 service="telephony" status="off"`,
		`notice level="alarm" site=1 text="down"`,
		`countdown what="switchover"`,
		`switchover-started from=1 to=2 reason="x"`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("second diff:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	got = nil
	last := next
	last.Countdowns = nil
	last.Timelines = slices.Clone(next.Timelines)
	last.Timelines[1].Finished = t0.Add(3 * time.Millisecond)
	last.Timelines[1].Err = "boom"
	d.diff(last, t0, got.emit)
	want = lines{
		`countdown-cleared what="switchover"`,
		`switchover-finished from=1 to=2 reason="x" ok=false error="boom"`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("third diff:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// BC-30: the calls an earlier run left are told when found and when they
// are gone (restored or discarded). A timeline is told once even when the
// state's list is capped and older ones drop out in front.
func TestDiffSavedCallsAndCappedTimelines(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var d differ
	var got lines
	st := core.State{SavedCalls: []core.SavedCall{{ID: "c1", Site: 1, Direction: sipua.Outgoing, Peer: "sip:9000@site1", Since: t0}}}
	for i := range core.MaxTimelines {
		st.Timelines = append(st.Timelines, continuity.Timeline{Kind: "login", From: 0, To: 1, Started: t0.Add(time.Duration(i)), Finished: t0.Add(time.Second)})
	}
	d.diff(st, t0, got.emit)
	if len(got) != 1+core.MaxTimelines*2 || got[0] != `saved-calls calls=[{"id":"c1","site":1,"direction":"outgoing","peer":"sip:9000@site1","peer_name":"","since":"2026-01-02T03:04:05Z"}]` {
		t.Fatalf("first diff: %d lines, %q", len(got), got[0])
	}

	got = nil
	next := st
	next.SavedCalls = nil
	next.Timelines = append(slices.Clone(st.Timelines[1:]), continuity.Timeline{Kind: "switchover", From: 1, To: 2, Trigger: "y", Started: t0.Add(time.Hour)})
	d.diff(next, t0, got.emit)
	want := lines{`saved-calls calls=[]`, `switchover-started from=1 to=2 reason="y"`}
	if !slices.Equal(got, want) {
		t.Fatalf("second diff:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A call that a re-launch stored ends twice in the history (stored, then
// for real): both ends are told (BC-30).
func TestDiffCallEndsTwice(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	stored := sipua.CallInfo{ID: "c1", Direction: sipua.Outgoing, Site: "site1", State: sipua.CallEnded, EndReason: sipua.EndStored, Reason: "stored", Ended: t0}
	up := sipua.CallInfo{ID: "c1", Direction: sipua.Outgoing, Site: "site1", State: sipua.CallConnected}
	var d differ
	var got lines
	d.diff(core.State{Calls: []sipua.CallInfo{up}}, t0, got.emit)
	d.diff(core.State{CallHistory: []sipua.CallInfo{stored}}, t0, got.emit)
	d.diff(core.State{Calls: []sipua.CallInfo{up}, CallHistory: []sipua.CallInfo{stored}}, t0, got.emit)
	hungUp := stored
	hungUp.EndReason, hungUp.Reason, hungUp.Ended = sipua.EndLocalHangup, "hung up", t0.Add(time.Minute)
	d.diff(core.State{CallHistory: []sipua.CallInfo{stored, hungUp}}, t0, got.emit)
	want := []string{`state="connected"`, `end="stored"`, `state="connected"`, `end="local hangup"`}
	if len(got) != len(want) {
		t.Fatalf("lines:\n%s", strings.Join(got, "\n"))
	}
	for i, w := range want {
		if !strings.Contains(got[i], w) {
			t.Fatalf("line %d %q, want %s", i, got[i], w)
		}
	}
}

func TestEncodeLine(t *testing.T) {
	line := encodeLine(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "service", []any{"site", 1, "bad", make(chan int)})
	want := `{"time":"2026-01-02T03:04:05Z","event":"service","site":1,"bad":"json: unsupported type: chan int"}` + "\n"
	if string(line) != want {
		t.Fatalf("%s\nwant %s", line, want)
	}
}

// idleCore is a core that is not started: its state and the refusals of
// its intents are enough for the protocol.
func idleCore(t *testing.T) *core.Core {
	t.Helper()
	cfg := config.Default()
	cfg.UserName = "agent1"
	for i := range cfg.Sites {
		cfg.Sites[i].Application = "app"
		cfg.Sites[i].Place = "place"
		cfg.Sites[i].ConfigServer.Primary = config.Endpoint{Host: "127.0.0.1", Port: 1}
	}
	c, err := core.New(core.Options{Config: cfg, Logger: testutil.Quiet()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// readLines decodes JSON lines until the reader ends.
func readLines(t *testing.T, r io.Reader, out *testutil.Recorder[map[string]any]) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Errorf("not a JSON line: %q", sc.Text())
			return
		}
		out.Add(m)
	}
}

func isReply(cmd string) func(map[string]any) bool {
	return func(m map[string]any) bool { return m["event"] == "reply" && m["cmd"] == cmd }
}

// Serve: a started line first; a refused, an over-long and a failing
// command get an error reply each and the reading goes on; the reply
// carries the id back.
func TestServeCommands(t *testing.T) {
	ended := make(chan error, 1)
	s := New(Options{Core: idleCore(t), Logger: testutil.Quiet(), Hello: []any{"user", "agent1"},
		InputEnded: func(err error) { ended <- err }})
	in := strings.Join([]string{
		`{"cmd":"ready","id":1}`,
		strings.Repeat("x", MaxLine+10),
		`{"cmd":"fly"}`,
		``,
		`{"cmd":"state","id":"s"}`,
	}, "\n") + "\n"
	pr, pw := io.Pipe()
	rec := testutil.NewRecorder[map[string]any]()
	done := make(chan struct{})
	go func() {
		defer close(done)
		readLines(t, pr, rec)
	}()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, strings.NewReader(in), pw) }()
	if err := <-ended; err != nil {
		t.Fatalf("input ended with %v", err)
	}
	cancel()
	if err := <-served; err != context.Canceled {
		t.Fatalf("Serve: %v", err)
	}
	pw.Close()
	<-done

	if first := rec.Next(t); first["event"] != "started" || first["user"] != "agent1" {
		t.Fatalf("first line %v", first)
	}
	r := rec.Await(t, "ready reply", isReply("ready"))
	if r["ok"] != false || r["id"] != 1.0 || !strings.Contains(r["error"].(string), "not logged in") {
		t.Fatalf("ready reply %v", r)
	}
	r = rec.Await(t, "too-long reply", isReply(""))
	if !strings.Contains(r["error"].(string), "longer than") {
		t.Fatalf("long line reply %v", r)
	}
	r = rec.Await(t, "unknown cmd reply", isReply("fly"))
	if r["ok"] != false {
		t.Fatalf("fly reply %v", r)
	}
	st := rec.Await(t, "state", func(m map[string]any) bool { return m["event"] == "state" })
	if st["state"].(map[string]any)["user"] != "agent1" {
		t.Fatalf("state %v", st)
	}
	if r := rec.Await(t, "state reply", isReply("state")); r["ok"] != true || r["id"] != "s" {
		t.Fatalf("state reply %v", r)
	}
}

// The control port serves loopback only, and each connection gets its own
// replies.
func TestControlPort(t *testing.T) {
	if _, err := Listen("0.0.0.0:0"); err == nil {
		t.Fatal("Listen on every interface accepted")
	}
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(Options{Core: idleCore(t), Logger: testutil.Quiet()})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		defer close(served)
		s.ServeControl(ctx, ln)
	}()
	defer func() {
		cancel()
		<-served
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rec := testutil.NewRecorder[map[string]any]()
	go readLines(t, conn, rec)
	if _, err := conn.Write([]byte(`{"cmd":"switch-site","id":2}` + "\n")); err != nil {
		t.Fatal(err)
	}
	if r := rec.Await(t, "switch-site reply", isReply("switch-site")); r["ok"] != false || r["id"] != 2.0 {
		t.Fatalf("reply %v", r)
	}
}

// The calls already in the history when an output starts (an earlier run's)
// are not told as news; a call that ends afterwards is, and the "state"
// answer lists them all.
func TestDiffStartsAfterHistory(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	old := sipua.CallInfo{ID: "c0", Direction: sipua.Incoming, Site: "site1", State: sipua.CallEnded, EndReason: sipua.EndRemoteHangup, Created: t0, Ended: t0.Add(time.Minute)}
	now := sipua.CallInfo{ID: "c1", Direction: sipua.Outgoing, Site: "site2", State: sipua.CallEnded, EndReason: sipua.EndLocalHangup, Created: t0.Add(time.Hour), Ended: t0.Add(2 * time.Hour)}
	for _, joining := range []bool{false, true} {
		d := baseline(core.State{CallHistory: []sipua.CallInfo{old}}, joining)
		var got lines
		d.diff(core.State{CallHistory: []sipua.CallInfo{old, now}}, t0, got.emit)
		if len(got) != 1 || !strings.Contains(got[0], `id="c1"`) {
			t.Fatalf("joining %v: lines %q, want c1's end only", joining, got)
		}
	}
	v := viewOf(core.State{CallHistory: []sipua.CallInfo{old, now}})
	if len(v.History) != 2 || v.History[0].ID != "c0" || v.History[0].Answered != "" || v.History[1].End != "local hangup" || v.History[1].Ended != "2026-01-02T05:04:05Z" {
		t.Fatalf("state's history %+v", v.History)
	}
}

// The voicemail count is told when it changes, with the site whose server
// reported it (site 0: none reports it any more), and is in the state
// answer while known.
func TestDiffVoicemail(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var d differ
	var got lines
	st := core.State{Phase: continuity.LoggedIn, Site: 1}
	d.diff(st, t0, got.emit) // the phase line
	got = nil
	d.diff(st, t0, got.emit)
	if len(got) != 0 {
		t.Fatalf("no change, lines %q", got)
	}
	steps := []struct {
		vm   core.Voicemail
		want string // "" for no line
	}{
		{core.Voicemail{Known: true, Site: 1}, `voicemail new=0 old=0 waiting=false site=1`},
		{core.Voicemail{Known: true, Waiting: true, New: 2, Old: 3, Site: 1}, `voicemail new=2 old=3 waiting=true site=1`},
		{core.Voicemail{Known: true, Waiting: true, New: 2, Old: 3, Site: 1}, ``},
		{core.Voicemail{Known: true, Waiting: true, New: 2, Old: 3, Site: 2}, `voicemail new=2 old=3 waiting=true site=2`},
		{core.Voicemail{}, `voicemail new=0 old=0 waiting=false site=0`},
	}
	for i, s := range steps {
		got = nil
		st.Voicemail = s.vm
		d.diff(st, t0, got.emit)
		if s.want == "" && len(got) != 0 || s.want != "" && !slices.Equal(got, lines{s.want}) {
			t.Fatalf("step %d: lines %q, want %q", i, got, s.want)
		}
	}

	st.Voicemail = core.Voicemail{Known: true, Waiting: true, New: 1, Old: 4, Site: 2}
	data, err := json.Marshal(viewOf(st))
	if err != nil {
		t.Fatal(err)
	}
	if want := `"voicemail":{"new":1,"old":4,"waiting":true,"site":2}`; !strings.Contains(string(data), want) {
		t.Errorf("state answer %s, want %s", data, want)
	}
	st.Voicemail = core.Voicemail{}
	if data, _ = json.Marshal(viewOf(st)); strings.Contains(string(data), "voicemail") {
		t.Errorf("state answer without a known count: %s", data)
	}
}

// The statistic is told with the site that counts it; a switchover that
// brings the other site's count is a change even when the value is the same.
func TestDiffStatisticSite(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var d differ
	var got lines
	st := core.State{Statistic: core.Statistic{Name: "CallsHandledToday", Value: 3, Known: true, Site: 1}}
	d.diff(st, t0, got.emit)
	st.Statistic.Site = 2
	d.diff(st, t0, got.emit)
	want := lines{`statistic name="CallsHandledToday" value=3 site=1`, `statistic name="CallsHandledToday" value=3 site=2`}
	if !slices.Equal(got, want) {
		t.Fatalf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if v := viewOf(st); v.Statistic == nil || *v.Statistic != (statisticView{Name: "CallsHandledToday", Value: 3, Site: 2}) {
		t.Fatalf("state's statistic %+v", v.Statistic)
	}
}
