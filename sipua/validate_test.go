package sipua

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// The torture requests that must be refused are refused with the right code;
// every valid one passes.
func TestCheckRequestTorture(t *testing.T) {
	dir := tortureDir(t)
	refused := map[string]int{
		"invalid/mcl01.dat":      400,
		"invalid/mismatch01.dat": 400,
		"invalid/unkscm.dat":     416,
	}
	valid, _ := filepath.Glob(filepath.Join(dir, "valid", "*.dat"))
	for _, f := range valid {
		refused["valid/"+filepath.Base(f)] = 0
	}
	for name, want := range refused {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		msg, err := sip.ParseMessage(data)
		if err != nil {
			if want != 0 {
				continue // refused by the parser already
			}
			t.Errorf("%s: valid message does not parse: %v", name, err)
			continue
		}
		req, ok := msg.(*sip.Request)
		if !ok {
			continue
		}
		if got, reason := checkRequest(req); got != want {
			t.Errorf("%s: %d %s, want %d", name, got, reason, want)
		}
	}
}
