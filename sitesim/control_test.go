package sitesim

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tandem-softphone/tandem/internal/testutil"
	"github.com/tandem-softphone/tandem/tserver"
	"github.com/tandem-softphone/tandem/wire"
)

// call makes one raw HTTP request to the control interface.
func call(t *testing.T, s *Sim, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(testutil.Context(t), method, "http://"+s.ControlAddr()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// wantOK checks a 200 {"ok": true} answer.
func wantOK(t *testing.T, s *Sim, path, body string) {
	t.Helper()
	code, out := call(t, s, http.MethodPost, path, body)
	var ok OK
	if code != http.StatusOK || json.Unmarshal([]byte(out), &ok) != nil || !ok.OK {
		t.Fatalf("POST %s %s: %d %s", path, body, code, out)
	}
}

// wantError checks a JSON error answer with that status whose message
// contains want.
func wantError(t *testing.T, s *Sim, method, path, body string, status int, want string) {
	t.Helper()
	code, out := call(t, s, method, path, body)
	if len(body) > 80 {
		body = body[:80] + "…"
	}
	var e APIError
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatalf("%s %s %s: answer is not JSON: %q", method, path, body, out)
	}
	if code != status || !strings.Contains(e.Message, want) {
		t.Fatalf("%s %s %s: %d %q, want %d with %q", method, path, body, code, e.Message, status, want)
	}
}

// BC-1: two sites, each with a T-Server pair, a Config Server pair, a Stat
// Server pair and a SIP registrar (seven servers), as /status reports them.
func TestControlStatus(t *testing.T) {
	t.Parallel()
	s := startSim(t, func(o *Options) { o.AllowLoginOutOfService = true })
	d := newDesk(t, site(t, s, 1))
	d.login("5004", "Place_5004_A", "1004")

	code, out := call(t, s, http.MethodGet, "/status", "")
	if code != http.StatusOK {
		t.Fatalf("GET /status: %d %s", code, out)
	}
	var st Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	if st.Control != s.ControlAddr() || len(st.Sites) != 2 || st.LastEvent == 0 {
		t.Fatalf("status %+v", st)
	}
	s1 := st.Sites[0]
	if s1.Site != 1 || s1.Application != DemoAppSite1 || len(s1.Servers) != 7 || len(s1.DNs) != 4 {
		t.Fatalf("site 1 status %+v", s1)
	}
	if len(s1.Agents) != 1 || s1.Agents[0].AgentID != "1004" || s1.Agents[0].State != wire.StateReady || s1.Agents[0].DN != "5004" {
		t.Fatalf("site 1 agents %+v", s1.Agents)
	}
	if len(st.Sites[1].Agents) != 0 || st.Sites[1].DNs[0].DN != "6001" || len(st.Sites[1].Servers) != 7 {
		t.Fatalf("site 2 status %+v", st.Sites[1])
	}
	// The Go client reads the same.
	cst, err := NewClient(s.ControlAddr()).Status(testutil.Context(t))
	if err != nil || len(cst.Sites) != 2 || cst.Sites[0].Agents[0].AgentID != "1004" {
		t.Fatalf("client status %+v, %v", cst, err)
	}
}

// BC-18 through the control interface.
func TestControlExpireRegistration(t *testing.T) {
	t.Parallel()
	s := startSim(t, nil)
	s2 := site(t, s, 2)
	d := newDesk(t, s2)
	if _, err := d.c.RegisterAddress(testutil.Context(t), "6001"); err != nil {
		t.Fatal(err)
	}
	sipRegister(t, s2, "6001", 3600)
	d.waitEvent(wire.EventDNBackInService, "")
	if _, err := d.c.AgentLogin(testutil.Context(t), tserver.Login{DN: "6001", Place: "Place_6001_B", AgentID: "1001"}); err != nil {
		t.Fatal(err)
	}

	wantOK(t, s, "/expire-registration", `{"site": 2, "dn": "6001"}`)
	d.waitEvent(wire.EventDNOutOfService, "")
	d.waitEvent(wire.EventAgentLogout, wire.ReasonDRForceLogout)

	wantError(t, s, http.MethodPost, "/expire-registration", `{"site": 2, "dn": "6001"}`, http.StatusNotFound, "no SIP registration")
	wantError(t, s, http.MethodPost, "/expire-registration", `{"site": 2, "dn": "5001"}`, http.StatusNotFound, "not configured at site 2")
	wantError(t, s, http.MethodPost, "/expire-registration", `{"site": 2}`, http.StatusBadRequest, "dn is required")
	wantError(t, s, http.MethodPost, "/expire-registration", `{"dn": "6001"}`, http.StatusBadRequest, "site is required")
}

// BC-19 through the control interface; revive ends the shutdown.
func TestControlGracefulShutdown(t *testing.T) {
	t.Parallel()
	s := startSim(t, func(o *Options) { o.AllowLoginOutOfService = true })
	d := newDesk(t, site(t, s, 1))
	d.login("5001", "Place_5001_A", "1001")

	wantOK(t, s, "/graceful-shutdown", `{"site": 1}`)
	d.waitEvent(wire.EventAgentLogout, wire.ReasonGracefulShutdownLogout)
	if !siteStatus(t, s, 1).ShuttingDown || siteStatus(t, s, 2).ShuttingDown {
		t.Fatal("shutting_down not on site 1 only")
	}
	_, err := d.c.AgentLogin(testutil.Context(t), tserver.Login{DN: "5001", Place: "Place_5001_A", AgentID: "1001"})
	if !tserver.IsRefused(err, wire.ErrCodeShuttingDown) {
		t.Fatalf("login during shutdown: %v", err)
	}

	wantOK(t, s, "/revive", `{"site": 1}`)
	if siteStatus(t, s, 1).ShuttingDown {
		t.Fatal("still shutting down after revive")
	}
	if _, err := d.c.AgentLogin(testutil.Context(t), tserver.Login{DN: "5001", Place: "Place_5001_A", AgentID: "1001"}); err != nil {
		t.Fatalf("login after revive: %v", err)
	}
	wantError(t, s, http.MethodPost, "/graceful-shutdown", `{"site": 3}`, http.StatusBadRequest, "site 3")
}

func TestControlKillRevive(t *testing.T) {
	t.Parallel()
	s := startSim(t, nil)
	wantOK(t, s, "/kill", `{"site": 2, "server": "tserver-primary", "mode": "blackhole"}`)
	if p := serverStatus(t, s, 2, ServerTServerPrimary); p.Mode != "blackhole" {
		t.Fatalf("after kill: %+v", p)
	}
	if b := serverStatus(t, s, 2, ServerTServerBackup); b.Role != "primary" {
		t.Fatalf("backup after the primary's kill: %+v", b)
	}
	wantOK(t, s, "/revive", `{"site": 2, "server": "tserver-primary"}`)
	if p := serverStatus(t, s, 2, ServerTServerPrimary); p.Mode != "up" || p.Role != "backup" {
		t.Fatalf("after revive: %+v", p)
	}
	// Defaults: every server, closed.
	wantOK(t, s, "/kill", `{"site": 1}`)
	for _, sv := range siteStatus(t, s, 1).Servers {
		if sv.Mode != "closed" {
			t.Errorf("kill all: %s is %s", sv.Name, sv.Mode)
		}
	}
	wantOK(t, s, "/revive", `{"site": 1, "server": "all"}`)
	for _, sv := range siteStatus(t, s, 1).Servers {
		if sv.Mode != "up" {
			t.Errorf("revive all: %s is %s", sv.Name, sv.Mode)
		}
	}
	wantOK(t, s, "/kill", `{"site": 1, "server": "sip", "mode": "close"}`)
	if sv := serverStatus(t, s, 1, ServerSIP); sv.Mode != "closed" {
		t.Fatalf("sip after kill: %+v", sv)
	}

	wantError(t, s, http.MethodPost, "/kill", `{"site": 1, "server": "mainframe"}`, http.StatusBadRequest, `unknown server "mainframe"`)
	wantError(t, s, http.MethodPost, "/kill", `{"site": 1, "mode": "melt"}`, http.StatusBadRequest, `unknown mode "melt"`)
	wantError(t, s, http.MethodPost, "/revive", `{"site": 1, "server": "nope"}`, http.StatusBadRequest, `unknown server "nope"`)
	wantError(t, s, http.MethodPost, "/revive", `{"server": "all"}`, http.StatusBadRequest, "site is required")
}

// BC-17 through the control interface, by agent id and by user name.
func TestControlForceLogout(t *testing.T) {
	t.Parallel()
	s := startSim(t, func(o *Options) { o.AllowLoginOutOfService = true })
	d := newDesk(t, site(t, s, 1))
	d.login("5002", "Place_5002_A", "1002")
	wantOK(t, s, "/force-logout", `{"site": 1, "agent": "1002", "reason": "supervisor-break"}`)
	if e := d.waitEvent(wire.EventAgentLogout, ""); e.ReasonCode != "supervisor-break" {
		t.Fatalf("logout %+v", e)
	}
	if _, err := d.c.AgentLogin(testutil.Context(t), tserver.Login{DN: "5002", Place: "Place_5002_A", AgentID: "1002"}); err != nil {
		t.Fatal(err)
	}
	wantOK(t, s, "/force-logout", `{"site": 1, "agent": "agent2", "reason": "by-name"}`)
	d.waitEvent(wire.EventAgentLogout, "by-name")

	wantError(t, s, http.MethodPost, "/force-logout", `{"site": 1, "agent": "1002", "reason": "again"}`, http.StatusNotFound, "not logged in")
	wantError(t, s, http.MethodPost, "/force-logout", `{"site": 1, "agent": "ghost", "reason": "x"}`, http.StatusNotFound, `"ghost"`)
	wantError(t, s, http.MethodPost, "/force-logout", `{"site": 1, "agent": "1002"}`, http.StatusBadRequest, "reason is required")
	wantError(t, s, http.MethodPost, "/force-logout", `{"site": 1, "reason": "x"}`, http.StatusBadRequest, "agent is required")
}

func TestControlEvents(t *testing.T) {
	t.Parallel()
	s := startSim(t, func(o *Options) { o.AllowLoginOutOfService = true })
	d := newDesk(t, site(t, s, 1))
	d.login("5001", "Place_5001_A", "1001")

	code, out := call(t, s, http.MethodGet, "/events", "")
	if code != http.StatusOK {
		t.Fatalf("GET /events: %d %s", code, out)
	}
	var all []LogEntry
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e LogEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		all = append(all, e)
	}
	if len(all) != 2 || all[0].Event != wire.EventRegistered || all[1].Event != wire.EventAgentLogin || all[0].Seq != 1 || all[1].Seq != 2 {
		t.Fatalf("events %+v", all)
	}
	if e := all[1]; e.Site != 1 || e.DN != "5001" || e.AgentID != "1001" || e.RefID == 0 || e.Member != "primary" || e.Attrs[wire.AttrPlace] != "Place_5001_A" || e.Time.IsZero() {
		t.Fatalf("login entry %+v", e)
	}

	code, out = call(t, s, http.MethodGet, "/events?since=1", "")
	if code != http.StatusOK || strings.Count(out, "\n") != 1 || !strings.Contains(out, wire.EventAgentLogin) {
		t.Fatalf("since=1: %d %q", code, out)
	}
	code, out = call(t, s, http.MethodGet, "/events?since=2", "")
	if code != http.StatusOK || out != "" {
		t.Fatalf("since=2: %d %q", code, out)
	}

	// follow=1 streams what comes next.
	fctx, cancel := context.WithCancel(testutil.Context(t))
	defer cancel()
	req, _ := http.NewRequestWithContext(fctx, http.MethodGet, "http://"+s.ControlAddr()+"/events?since=2&follow=1", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.Header.Get("X-Sitesim-Oldest-Seq") != "1" {
		t.Errorf("X-Sitesim-Oldest-Seq %q", res.Header.Get("X-Sitesim-Oldest-Seq"))
	}
	if err := site(t, s, 1).ForceLogout("1001", "streamed"); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(res.Body)
	if !sc.Scan() {
		t.Fatalf("follow: no line: %v", sc.Err())
	}
	var e LogEntry
	if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Seq != 3 || e.Event != wire.EventAgentLogout || e.ReasonCode != "streamed" {
		t.Fatalf("followed %q: %v", sc.Text(), err)
	}

	wantError(t, s, http.MethodGet, "/events?since=-1", "", http.StatusBadRequest, "since")
	wantError(t, s, http.MethodGet, "/events?follow=maybe", "", http.StatusBadRequest, "follow")
}

// A follower ends when the simulator closes.
func TestControlEventsFollowEndsOnClose(t *testing.T) {
	t.Parallel()
	s := startSim(t, nil)
	got := make(chan LogEntry, 10)
	done := make(chan error, 1)
	go func() {
		done <- NewClient(s.ControlAddr()).Events(context.Background(), 0, true, func(e LogEntry) error {
			got <- e
			return nil
		})
	}()
	// An event that reaches the follower proves it is connected.
	if err := site(t, s, 1).TServer().SetDNInService("5001", true, "test"); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-got:
		if e.Event != wire.EventDNBackInService {
			t.Fatalf("followed %+v", e)
		}
	case <-testutil.Context(t).Done():
		t.Fatal("follower got nothing")
	}
	s.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("follower ended with %v", err)
		}
	case <-testutil.Context(t).Done():
		t.Fatal("follower still running after Close")
	}
}

func TestControlBadInput(t *testing.T) {
	t.Parallel()
	s := startSim(t, nil)
	for _, c := range []struct {
		method, path, body string
		status             int
		want               string
	}{
		{http.MethodPost, "/kill", `{"site": 1`, http.StatusBadRequest, "bad JSON"},
		{http.MethodPost, "/kill", `not json`, http.StatusBadRequest, "bad JSON"},
		{http.MethodPost, "/kill", `{"site": 1, "colour": "red"}`, http.StatusBadRequest, "colour"},
		{http.MethodPost, "/kill", `{"site": "one"}`, http.StatusBadRequest, "bad JSON"},
		{http.MethodPost, "/kill", `{"site": 1} {"site": 2}`, http.StatusBadRequest, "more than one"},
		{http.MethodPost, "/kill", `{"site": 9}`, http.StatusBadRequest, "site 9"},
		{http.MethodPost, "/graceful-shutdown", ``, http.StatusBadRequest, "bad JSON"},
		{http.MethodPost, "/force-logout", `{"site": 1, "reason": "x", "agent": "` + strings.Repeat("a", maxBody) + `"}`, http.StatusBadRequest, "too large"},
		{http.MethodGet, "/kill", ``, http.StatusMethodNotAllowed, "wants POST"},
		{http.MethodPost, "/status", `{}`, http.StatusMethodNotAllowed, "wants GET"},
		{http.MethodGet, "/nowhere", ``, http.StatusNotFound, "no endpoint /nowhere"},
	} {
		wantError(t, s, c.method, c.path, c.body, c.status, c.want)
	}
}

// The Go client reports refusals as *APIError.
func TestClientErrors(t *testing.T) {
	t.Parallel()
	s := startSim(t, nil)
	c := NewClient(s.ControlAddr())
	err := c.Kill(testutil.Context(t), 1, "mainframe", "")
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || !strings.Contains(ae.Message, "mainframe") {
		t.Fatalf("Kill: %v", err)
	}
	if err := c.Events(testutil.Context(t), 0, false, func(LogEntry) error { return nil }); err != nil {
		t.Fatalf("Events on an empty log: %v", err)
	}
	if _, err := NewClient("127.0.0.1:1").Status(testutil.Context(t)); err == nil {
		t.Fatal("Status of nothing succeeded")
	}
}
