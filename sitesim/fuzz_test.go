package sitesim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// The control interface's POST endpoints, which decode a body from outside.
var fuzzPaths = []string{"/expire-registration", "/graceful-shutdown", "/kill", "/revive", "/force-logout"}

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
