package sitesim

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/tandem-softphone/tandem/internal/testutil"
	"github.com/tandem-softphone/tandem/media/tone"
	"github.com/tandem-softphone/tandem/media/wav"
	"github.com/tandem-softphone/tandem/sitesim/sipcall"
	"github.com/tandem-softphone/tandem/wire"
)

// melody is test audio that matches itself only in place (80 ms notes of
// random pitch) at 8 kHz, also written to a WAV file.
func melody(t *testing.T, d time.Duration) (string, []int16) {
	t.Helper()
	r := rand.New(rand.NewPCG(5, 6))
	var pcm []int16
	for len(pcm) < int(d/time.Millisecond)*8 {
		note, err := tone.Generate(8000, tone.Spec{Freqs: []float64{300 + 2500*r.Float64()}, Level: 0.4}, 80*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		pcm = append(pcm, note...)
	}
	name := filepath.Join(t.TempDir(), "melody.wav")
	if err := wav.WriteFile(name, 8000, pcm); err != nil {
		t.Fatal(err)
	}
	return name, pcm
}

// waitCall waits for a call of the simulated user agent to reach a state.
func waitCall(t *testing.T, s *Sim, id string, state sipcall.State) CallStatus {
	t.Helper()
	var got CallStatus
	testutil.Eventually(t, "call "+id+" "+string(state), func() bool {
		for _, c := range s.Calls() {
			if c.ID == id {
				got = c
				return c.State == state
			}
		}
		return false
	})
	return got
}

func handled(t *testing.T, st *Site, agentID string) int64 {
	t.Helper()
	v, ok := st.TServer().AgentStat(agentID, wire.StatCallsHandledToday)
	if !ok {
		t.Fatalf("no CallsHandledToday for %s", agentID)
	}
	return v
}

// heard is how well a recording carries what was played, leaving out the
// first 300 ms: a recording may start after the first audio came.
func heard(t *testing.T, played, recorded []int16) float64 {
	t.Helper()
	const skip = 2400
	if len(recorded) < skip {
		t.Fatalf("heard only %d samples", len(recorded))
	}
	return sipcall.Similarity(played[skip:], recorded[skip:], 4000)
}

// retryAudio runs a call whose audio is checked up to three times, until
// attempt's correlation passes 0.8: other tests of the run can starve
// real-time media for a while, where a broken audio path fails every time.
// It returns the number of attempts.
func retryAudio(t *testing.T, what string, attempt func() float64) int {
	t.Helper()
	var got []float64
	for n := 1; n <= 3; n++ {
		c := attempt()
		if c >= 0.8 {
			return n
		}
		got = append(got, c)
		t.Logf("%s: correlation %.2f, once more", what, c)
	}
	t.Fatalf("%s: what was heard correlates %.2f with what was played, want > 0.8", what, got)
	return 0
}

// BC-2: the phone is registered at both sites; the agent is logged in at
// site 2. A customer's call to the agent's site-1 DN, sent to site 1 with
// `sitesim ctl call`, is delivered through site 2 to the contact registered
// there, with the customer's audio. The DN is busy during the call, and the
// answered call counts in CallsHandledToday at site 2.
func TestCustomerCallDeliveredViaLoggedInSite(t *testing.T) {
	// Not parallel: audio checks want a machine that is not overloaded.
	s := startSim(t, nil)
	s1, s2 := site(t, s, 1), site(t, s, 2)
	audio, pcm := melody(t, 1500*time.Millisecond)
	p := newPhone(t, false, nil)
	p.register(s1, "5001")
	p.register(s2, "6001")
	d := newDesk(t, s2)
	d.login("6001", "Place_6001_B", "1001")

	calls := retryAudio(t, "the agent", func() float64 {
		id := strings.TrimSpace(ctl(t, s, "call", "--to", "5001", "--site", "1", "--audio", audio, "--duration", "2s"))
		c := p.incoming.Next(t)
		inv := p.invites.Next(t)
		if inv.Recipient.User != "6001" || inv.Source() != s2.Registrar().UDPAddr().String() {
			t.Fatalf("INVITE %s from %s: want the site-2 binding, from site 2 (%s)", inv.Recipient.String(), inv.Source(), s2.Registrar().UDPAddr())
		}
		if rr := inv.GetHeaders("Record-Route"); len(rr) != 2 {
			t.Fatalf("Record-Route %v: want both sites", rr)
		}
		call := waitCall(t, s, id, sipcall.StateConnected)
		if call.Site != 1 || call.To != "5001" || call.Direction != sipcall.DirectionOutbound {
			t.Fatalf("call %+v", call)
		}
		if !dnStatus(t, s, 2, "6001").Busy || dnStatus(t, s, 1, "5001").Busy {
			t.Fatal("during the call: want 6001 busy at site 2, 5001 free at site 1")
		}
		before := handled(t, s2, "1001")
		if end := waitCall(t, s, id, sipcall.StateEnded); end.Reason != "duration" || end.Status != sip.StatusOK {
			t.Fatalf("ended call %+v", end)
		}
		c.ended()
		testutil.Eventually(t, "6001 free", func() bool { return !dnStatus(t, s, 2, "6001").Busy })
		if n := handled(t, s2, "1001"); n != before+1 {
			t.Fatalf("CallsHandledToday %d after the call, want %d", n, before+1)
		}
		return heard(t, pcm[:12000], c.heardSoFar())
	})
	if n := handled(t, s2, "1001"); n != int64(calls) {
		t.Fatalf("CallsHandledToday %d after %d calls", n, calls)
	}
	if n := handled(t, s1, "1001"); n != 0 {
		t.Fatalf("CallsHandledToday at site 1 %d, want 0", n)
	}
}

// 480 when the agent is logged in nowhere, or has no binding at the site
// where it is logged in; 404 for a number that is nobody's.
func TestCallRefusals(t *testing.T) {
	t.Parallel()
	s := startSim(t, func(o *Options) { o.AllowLoginOutOfService = true })
	s1 := site(t, s, 1)
	d := newDesk(t, s1)
	d.login("5003", "Place_5003_A", "1003") // no phone registered
	p := newPhone(t, false, nil)
	p.register(s1, "5001")

	for _, c := range []struct {
		to     string
		status int
	}{
		{"5002", sip.StatusTemporarilyUnavailable}, // agent2 logged in nowhere
		{"6003", sip.StatusTemporarilyUnavailable}, // agent3 at site 1 without a binding
		{"7777", sip.StatusNotFound},
	} {
		id, err := s.Call(CallRequest{To: c.to, Site: 2})
		if err != nil {
			t.Fatal(err)
		}
		if end := waitCall(t, s, id, sipcall.StateEnded); end.Status != c.status || end.Site != 2 {
			t.Fatalf("customer call to %s: %+v, want %d", c.to, end, c.status)
		}
		if _, status := p.dial(s1, "5001", c.to); status != c.status {
			t.Fatalf("agent's call to %s: %d, want %d", c.to, status, c.status)
		}
	}
	// The proxies report a call's end after passing its last response on.
	testutil.Eventually(t, "no DN busy after refused calls", func() bool {
		for n := 1; n <= 2; n++ {
			for _, st := range siteStatus(t, s, n).DNs {
				if st.Busy {
					return false
				}
			}
		}
		return true
	})
}

// An agent calls another agent's DN of site 1 through site 1; the callee is
// logged in at site 2 and gets the call through site 2. Both DNs are busy
// during the call; the callee's BYE goes back through both sites; the call
// counts for both agents, each at its own site.
func TestAgentCallsAgent(t *testing.T) {
	// Not parallel: audio checks want a machine that is not overloaded.
	s := startSim(t, nil)
	s1, s2 := site(t, s, 1), site(t, s, 2)
	_, pcm := melody(t, time.Second)
	a := newPhone(t, false, pcm)
	a.register(s1, "5001")
	a.register(s2, "6001")
	b := newPhone(t, false, nil)
	b.register(s1, "5002")
	b.register(s2, "6002")
	newDesk(t, s1).login("5001", "Place_5001_A", "1001")
	newDesk(t, s2).login("6002", "Place_6002_B", "1002")

	calls := retryAudio(t, "the callee", func() float64 {
		out, status := a.dial(s1, "5001", "5002")
		if status != sip.StatusOK {
			t.Fatalf("call: %d", status)
		}
		in := b.incoming.Next(t)
		if inv := b.invites.Next(t); inv.Recipient.User != "6002" || inv.Source() != s2.Registrar().UDPAddr().String() {
			t.Fatalf("INVITE %s from %s", inv.Recipient.String(), inv.Source())
		}
		if !dnStatus(t, s, 1, "5001").Busy || !dnStatus(t, s, 2, "6002").Busy {
			t.Fatal("during the call: want 5001 busy at site 1 and 6002 at site 2")
		}
		time.Sleep(time.Second) // let the audio play
		in.hangup()
		out.ended()
		testutil.Eventually(t, "DNs free", func() bool {
			return !dnStatus(t, s, 1, "5001").Busy && !dnStatus(t, s, 2, "6002").Busy
		})
		return heard(t, pcm[:6000], in.heardSoFar())
	})
	if handled(t, s1, "1001") != int64(calls) || handled(t, s2, "1002") != int64(calls) {
		t.Fatalf("CallsHandledToday: 1001 at site 1 %d, 1002 at site 2 %d; want %d calls each", handled(t, s1, "1001"), handled(t, s2, "1002"), calls)
	}
}

// The customer hangs up while the agent's phone rings: the CANCEL goes
// through both sites to the phone; the call is not counted as handled.
func TestCancelThroughSites(t *testing.T) {
	t.Parallel()
	s := startSim(t, nil)
	s1 := site(t, s, 1)
	p := newPhone(t, true, nil)
	p.register(s1, "5004")
	newDesk(t, s1).login("5004", "Place_5004_A", "1004")

	id, err := s.Call(CallRequest{To: "6004", Site: 2})
	if err != nil {
		t.Fatal(err)
	}
	p.invites.Next(t)
	waitCall(t, s, id, sipcall.StateRinging)
	if !dnStatus(t, s, 1, "5004").Busy {
		t.Fatal("5004 not busy while it rings")
	}
	if err := s.Hangup(id); err != nil {
		t.Fatal(err)
	}
	if end := waitCall(t, s, id, sipcall.StateEnded); end.Reason != "cancelled" || end.Status != sip.StatusRequestTerminated {
		t.Fatalf("cancelled call %+v", end)
	}
	testutil.Eventually(t, "5004 free", func() bool { return !dnStatus(t, s, 1, "5004").Busy })
	if n := handled(t, s1, "1004"); n != 0 {
		t.Fatalf("a cancelled call counted: %d", n)
	}
}

// The test numbers through a site: 9000 sends back what the agent says,
// 9001 plays a tone, 9002 is busy; the simulator lists their calls.
func TestTestNumbersThroughSite(t *testing.T) {
	// Not parallel: audio checks want a machine that is not overloaded.
	s := startSim(t, nil)
	s1 := site(t, s, 1)
	_, pcm := melody(t, time.Second)
	p := newPhone(t, false, pcm)
	p.register(s1, "5001")

	echoes := retryAudio(t, "the echo", func() float64 {
		echo, status := p.dial(s1, "5001", sipcall.NumberEcho)
		if status != sip.StatusOK {
			t.Fatalf("call 9000: %d", status)
		}
		if !dnStatus(t, s, 1, "5001").Busy {
			t.Fatal("the caller's DN is not busy")
		}
		time.Sleep(time.Second)
		echo.hangup()
		return heard(t, pcm[:6000], echo.heardSoFar())
	})

	tone9001, status := p.dial(s1, "5001", sipcall.NumberTone)
	if status != sip.StatusOK {
		t.Fatalf("call 9001: %d", status)
	}
	time.Sleep(500 * time.Millisecond)
	tone9001.hangup()
	ref, err := tone.Generate(8000, sipcall.DefaultTone, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	heard := tone9001.heardSoFar()
	if corr := sipcall.Similarity(ref, heard[len(heard)-3000:], 800); corr < 0.8 {
		t.Fatalf("9001's tone correlates %.2f", corr)
	}

	if _, status := p.dial(s1, "5001", sipcall.NumberBusy); status != sip.StatusBusyHere {
		t.Fatalf("call 9002: %d", status)
	}
	testutil.Eventually(t, "calls ended", func() bool {
		calls := s.Calls()
		if len(calls) != echoes+2 {
			return false
		}
		for i, want := range []string{sipcall.NumberEcho, sipcall.NumberTone, sipcall.NumberBusy} {
			c := calls[echoes-1+i]
			if c.To != want || c.From != "5001" || c.Site != 1 || c.Direction != sipcall.DirectionInbound || c.State != sipcall.StateEnded {
				return false
			}
		}
		return true
	})
	testutil.Eventually(t, "5001 free after its calls", func() bool { return !dnStatus(t, s, 1, "5001").Busy })
}

// BC-19: a graceful shutdown during a call logs the agent out only when
// the call ends; meanwhile the site refuses new calls with 503, whichever
// site they come through.
func TestGracefulShutdownWaitsForTheCall(t *testing.T) {
	t.Parallel()
	s := startSim(t, nil)
	s1 := site(t, s, 1)
	p := newPhone(t, false, nil)
	p.register(s1, "5001")
	d := newDesk(t, s1)
	d.login("5001", "Place_5001_A", "1001")

	id, err := s.Call(CallRequest{To: "5001"})
	if err != nil {
		t.Fatal(err)
	}
	c := p.incoming.Next(t)
	waitCall(t, s, id, sipcall.StateConnected)

	s1.GracefulShutdown()
	if _, ok := s1.TServer().AgentDN("1001"); !ok {
		t.Fatal("the agent on a call was logged out at once")
	}
	for _, via := range []int{1, 2} {
		id, err := s.Call(CallRequest{To: "6001", Site: via})
		if err != nil {
			t.Fatal(err)
		}
		if end := waitCall(t, s, id, sipcall.StateEnded); end.Status != sip.StatusServiceUnavailable {
			t.Fatalf("new call through site %d during the shutdown: %+v", via, end)
		}
	}
	if _, ok := s1.TServer().AgentDN("1001"); !ok {
		t.Fatal("the agent was logged out before the end of its call")
	}

	if err := s.Hangup(id); err != nil {
		t.Fatal(err)
	}
	c.ended()
	e := d.waitEvent(wire.EventAgentLogout, wire.ReasonGracefulShutdownLogout)
	if e.AgentID != "1001" {
		t.Fatalf("logout %+v", e)
	}
	if n := handled(t, s1, "1001"); n != 1 {
		t.Fatalf("CallsHandledToday %d, want 1", n)
	}
}

// `sitesim ctl call`, `calls` and `hangup`, and their mistakes.
func TestCtlCalls(t *testing.T) {
	// Not parallel: audio checks want a machine that is not overloaded.
	s := startSim(t, nil)
	rec := filepath.Join(t.TempDir(), "heard.wav")
	id := strings.TrimSpace(ctl(t, s, "call", "--to", sipcall.NumberTone, "--site", "2", "--record", rec, "--duration", "700ms"))
	var listed []CallStatus
	if err := json.Unmarshal([]byte(ctl(t, s, "calls")), &listed); err != nil {
		t.Fatal(err)
	}
	// The customer's call, and the test number's side of it.
	if len(listed) == 0 || listed[0].ID != id || listed[0].Site != 2 || listed[0].To != sipcall.NumberTone || listed[0].Record != rec {
		t.Fatalf("ctl calls: %+v", listed)
	}
	waitCall(t, s, id, sipcall.StateEnded)
	_, heard, err := wav.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := tone.Generate(8000, sipcall.DefaultTone, 200*time.Millisecond)
	if corr := sipcall.Similarity(ref, heard[len(heard)-2400:], 800); corr < 0.8 {
		t.Fatalf("the recorded tone correlates %.2f", corr)
	}
	ctlFails(t, s, 1, "has ended", "hangup", "--call", id)

	id = strings.TrimSpace(ctl(t, s, "call", "--to", sipcall.NumberEcho))
	waitCall(t, s, id, sipcall.StateConnected)
	if out := ctl(t, s, "hangup", "--call", id); !strings.Contains(out, "call "+id+": hung up") {
		t.Fatalf("ctl hangup: %q", out)
	}
	if end := waitCall(t, s, id, sipcall.StateEnded); end.Reason != "hangup" || end.Site != 1 {
		t.Fatalf("hung up call %+v", end)
	}

	ctlFails(t, s, 2, "--to is required", "call")
	ctlFails(t, s, 2, "--site 1 or --site 2", "call", "--to", "9000", "--site", "3")
	ctlFails(t, s, 2, "must not be negative", "call", "--to", "9000", "--duration", "-1s")
	ctlFails(t, s, 2, "--call is required", "hangup")
	ctlFails(t, s, 1, "no call c99", "hangup", "--call", "c99")
	ctlFails(t, s, 1, "audio", "call", "--to", "9000", "--audio", filepath.Join(t.TempDir(), "none.wav"))
	ctlFails(t, s, 1, "number", "call", "--to", "90 00")
}

// The control interface's call endpoints, through the Go client and raw.
func TestControlCalls(t *testing.T) {
	t.Parallel()
	s := startSim(t, nil)
	c := NewClient(s.ControlAddr())
	calls, err := c.Calls(testutil.Context(t))
	if err != nil || len(calls) != 0 {
		t.Fatalf("no calls yet: %v %v", calls, err)
	}
	id, err := c.Call(testutil.Context(t), CallRequest{To: sipcall.NumberBusy, Site: 2})
	if err != nil {
		t.Fatal(err)
	}
	waitCall(t, s, id, sipcall.StateEnded)
	calls, err = c.Calls(testutil.Context(t))
	if err != nil || len(calls) != 2 || calls[0].ID != id || calls[0].Status != sip.StatusBusyHere || calls[1].Direction != sipcall.DirectionInbound {
		t.Fatalf("calls %+v %v", calls, err)
	}
	var apiErr *APIError
	if err := c.Hangup(testutil.Context(t), id); !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest {
		t.Fatalf("hangup of an ended call: %v", err)
	}

	for _, bad := range []struct{ body, want string }{
		{`{}`, "to is required"},
		{`{"to":"9000","site":3}`, "site 3"},
		{`{"to":"9000","duration":"soon"}`, "duration"},
		{`{"to":"9000","duration":"-5s"}`, "duration"},
		{`{"to":"9000","color":"red"}`, "unknown field"},
		{`{"to":"9 000"}`, "number"},
		{`{"to":"9000"} {}`, "more than one value"},
	} {
		wantError(t, s, http.MethodPost, "/call", bad.body, http.StatusBadRequest, bad.want)
	}
	wantError(t, s, http.MethodPost, "/hangup", `{}`, http.StatusBadRequest, "call is required")
	wantError(t, s, http.MethodPost, "/hangup", `{"call":"c42"}`, http.StatusNotFound, "no call c42")
	wantError(t, s, http.MethodGet, "/call", "", http.StatusMethodNotAllowed, "wants POST")
	wantError(t, s, http.MethodPost, "/calls", "", http.StatusMethodNotAllowed, "wants GET")
	if st := s.Status(); st.UA == "" || !strings.HasPrefix(st.UA, "127.0.0.1:") {
		t.Fatalf("status names the user agent at %q", st.UA)
	}

	// A SIP server that was killed and revived routes calls again.
	s2 := site(t, s, 2)
	if err := s2.Kill(ServerSIP, ModeClose); err != nil {
		t.Fatal(err)
	}
	if err := s2.Revive(ServerSIP); err != nil {
		t.Fatal(err)
	}
	id, err = c.Call(testutil.Context(t), CallRequest{To: sipcall.NumberBusy, Site: 2})
	if err != nil {
		t.Fatal(err)
	}
	if end := waitCall(t, s, id, sipcall.StateEnded); end.Status != sip.StatusBusyHere {
		t.Fatalf("call through a revived site: %+v", end)
	}
}
