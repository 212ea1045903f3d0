package core

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/sipua"
)

func endedCall(i int) sipua.CallInfo {
	at := time.Date(2026, 11, 23, 9, 0, i, 0, time.UTC)
	return sipua.CallInfo{
		ID: fmt.Sprintf("call-%d", i), Direction: sipua.Incoming, Site: "site1",
		PeerURI: fmt.Sprintf("sip:%d@site1.test", 7000+i), PeerName: "Customer",
		State: sipua.CallEnded, EndReason: sipua.EndRemoteHangup, Code: 200, Reason: "OK",
		Created: at, Answered: at.Add(time.Second), Ended: at.Add(time.Minute),
	}
}

// The history file keeps the last maxHistory calls and reads back equal;
// entries that are not an ended call are dropped.
func TestHistoryEncodeDecode(t *testing.T) {
	var calls []sipua.CallInfo
	for i := range maxHistory + 20 {
		calls = append(calls, endedCall(i))
	}
	data, err := encodeHistory(calls)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeHistory(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != maxHistory || got[0].ID != "call-20" || got[maxHistory-1].ID != calls[len(calls)-1].ID {
		t.Fatalf("read %d calls, %s … %s", len(got), got[0].ID, got[len(got)-1].ID)
	}
	if !reflect.DeepEqual(got[5], calls[25]) {
		t.Fatalf("read %+v\nwrote %+v", got[5], calls[25])
	}

	running := endedCall(1)
	running.State = sipua.CallConnected
	data, _ = json.Marshal(historyDoc{Version: historyVersion, Calls: []sipua.CallInfo{endedCall(0), running, {State: sipua.CallEnded}}})
	if got, err := decodeHistory(data); err != nil || len(got) != 1 || got[0].ID != "call-0" {
		t.Fatalf("decode: %+v, %v", got, err)
	}
	for name, bad := range map[string][]byte{
		"not JSON":      []byte("{\"version\":1,\"calls\":["),
		"newer version": []byte(`{"version":2,"calls":[]}`),
		"no version":    []byte(`{"calls":[]}`),
		"wrong type":    []byte(`{"version":1,"calls":{"a":1}}`),
		"too large":     make([]byte, maxHistoryFile+1),
	} {
		if _, err := decodeHistory(bad); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// The call history outlives the run: a core started on the same state
// directory begins with it. A damaged file is logged and the history
// starts empty; the next write replaces it.
func TestHistoryPersisted(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, historyFile)
	want := []sipua.CallInfo{endedCall(1), endedCall(2)}
	s := newSaver(dir, testLog, func(string) (*sipua.Call, bool) { return nil, false })
	s.saveHistory(want)
	s.flush()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("history file mode %o, want 600", fi.Mode().Perm())
	}

	c := newTestCore(t, dir)
	if got := c.Snapshot().CallHistory; !reflect.DeepEqual(got, want) {
		t.Fatalf("history at start: %+v", got)
	}

	if err := os.WriteFile(path, []byte(`{"version":1,"calls":[{"ID":`), 0o600); err != nil {
		t.Fatal(err)
	}
	c = newTestCore(t, dir)
	if got := c.Snapshot().CallHistory; len(got) != 0 {
		t.Fatalf("history from a damaged file: %+v", got)
	}
	c.saved.saveHistory([]sipua.CallInfo{endedCall(3)})
	c.saved.flush()
	if got, err := loadHistory(path); err != nil || len(got) != 1 || got[0].ID != "call-3" {
		t.Fatalf("history after a write: %+v, %v", got, err)
	}
}

// newTestCore is a core that is not started, on a state directory.
func newTestCore(t *testing.T, stateDir string) *Core {
	t.Helper()
	sim := startSim(t, nil)
	opts := testOptions(t, sim, "agent1")
	opts.StateDir = stateDir
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// FuzzDecodeHistory: a history file of any content gives calls or an
// error, never a panic; what it gives writes and reads back the same.
func FuzzDecodeHistory(f *testing.F) {
	good, _ := encodeHistory([]sipua.CallInfo{endedCall(1), endedCall(2)})
	f.Add(good)
	f.Add([]byte(`{"version":1,"calls":[{"ID":"x","State":7,"Media":{"Remote":"127.0.0.1:4000"}}]}`))
	f.Add([]byte(`{"version":1,"calls":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		calls, err := decodeHistory(data)
		if err != nil {
			return
		}
		if len(calls) > maxHistory {
			t.Fatalf("%d calls", len(calls))
		}
		again, err := encodeHistory(calls)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeHistory(again)
		if err != nil || len(back) != len(calls) {
			t.Fatalf("read back %d calls (%v), wrote %d", len(back), err, len(calls))
		}
	})
}

// The state keeps the last MaxTimelines timelines, the newest included,
// however many the run gathers.
func TestLastTimelines(t *testing.T) {
	mk := func(from, n int) []continuity.Timeline {
		var out []continuity.Timeline
		for i := range n {
			out = append(out, continuity.Timeline{Kind: "switchover", Trigger: fmt.Sprint(from + i)})
		}
		return out
	}
	for _, tc := range []struct{ past, cur int }{{0, 0}, {3, 2}, {MaxTimelines, 0}, {MaxTimelines + 7, 3}, {4, MaxTimelines + 9}, {200, 200}} {
		past, cur := mk(0, tc.past), mk(tc.past, tc.cur)
		got := lastTimelines(past, cur)
		total := tc.past + tc.cur
		if len(got) != min(total, MaxTimelines) {
			t.Fatalf("%d+%d: %d timelines", tc.past, tc.cur, len(got))
		}
		if total > 0 && got[len(got)-1].Trigger != fmt.Sprint(total-1) {
			t.Fatalf("%d+%d: the last is %s", tc.past, tc.cur, got[len(got)-1].Trigger)
		}
		if len(got) > 0 && got[0].Trigger != fmt.Sprint(total-len(got)) {
			t.Fatalf("%d+%d: the first is %s", tc.past, tc.cur, got[0].Trigger)
		}
		if len(past) > 0 && len(got) > 0 && &got[0] == &past[0] {
			t.Fatal("the result shares the past's array")
		}
	}
}

// A snapshot carries the last MaxTimelines of the run's timelines.
func TestSnapshotTimelinesCapped(t *testing.T) {
	c := newTestCore(t, "")
	for i := range MaxTimelines + 30 {
		c.pastTimelines = lastTimelines(c.pastTimelines, []continuity.Timeline{{Kind: "login", Trigger: fmt.Sprint(i)}})
	}
	if n := len(c.pastTimelines); n != MaxTimelines {
		t.Fatalf("%d past timelines kept", n)
	}
	tl := c.Snapshot().Timelines
	if len(tl) != MaxTimelines || tl[len(tl)-1].Trigger != fmt.Sprint(MaxTimelines+29) {
		t.Fatalf("snapshot: %d timelines, last %+v", len(tl), tl[len(tl)-1])
	}
}
