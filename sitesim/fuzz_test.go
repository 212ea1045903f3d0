package sitesim

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

// The control interface's POST endpoints, which decode a body from outside.
var fuzzPaths = []string{"/expire-registration", "/graceful-shutdown", "/kill", "/revive", "/force-logout", "/hangup"}

// FuzzControlBody posts any body to any POST endpoint: the answer is always
// JSON, 200 or a 4xx, never a crash or a 5xx. Seeds: testdata/fuzz/FuzzControlBody.
func FuzzControlBody(f *testing.F) {
	s := New(Options{Sites: EphemeralAddrs(), ControlAddr: "127.0.0.1:0", Logger: quiet})
	if err := s.Start(f.Context()); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	h := s.Handler()
	f.Fuzz(func(t *testing.T, path uint8, body []byte) {
		p := fuzzPaths[int(path)%len(fuzzPaths)]
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, p, bytes.NewReader(body)))
		if w.Code != http.StatusOK && w.Code != http.StatusBadRequest && w.Code != http.StatusNotFound {
			t.Fatalf("POST %s %q: %d %s", p, body, w.Code, w.Body)
		}
		var v map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
			t.Fatalf("POST %s %q: answer is not JSON: %q", p, body, w.Body)
		}
	})
}

// FuzzCallRequest decodes any body as POST /call does and checks it as Call
// does, without placing the call (a fuzzed call could last forever or write
// a recording anywhere): a refusal is ErrInvalid, an accepted request is
// complete; never a crash. Seeds: testdata/fuzz/FuzzCallRequest.
func FuzzCallRequest(f *testing.F) {
	s := New(Options{Sites: EphemeralAddrs(), ControlAddr: "127.0.0.1:0", Logger: quiet})
	if err := s.Start(f.Context()); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	f.Fuzz(func(t *testing.T, body []byte) {
		w := httptest.NewRecorder()
		req, ok := decode[CallRequest](w, httptest.NewRequest(http.MethodPost, "/call", bytes.NewReader(body)))
		if !ok {
			if w.Code != http.StatusBadRequest {
				t.Fatalf("%q: refused with %d", body, w.Code)
			}
			return
		}
		o, err := s.dialOptions(req)
		switch {
		case err != nil && !errors.Is(err, ErrInvalid):
			t.Fatalf("%q: %v is not ErrInvalid", body, err)
		case err == nil && (o.To == "" || o.Server == "" || o.Duration < 0):
			t.Fatalf("%q: accepted as %+v", body, o)
		}
	})
}
