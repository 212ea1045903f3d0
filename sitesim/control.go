package sitesim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/tandem-softphone/tandem/sitesim/tsim"
)

// maxBody bounds a control request's body.
const maxBody = 64 << 10

// The control interface's request bodies.
type (
	// SiteRequest is the body of POST /graceful-shutdown.
	SiteRequest struct {
		Site int `json:"site"`
	}
	// ExpireRequest is the body of POST /expire-registration.
	ExpireRequest struct {
		Site int    `json:"site"`
		DN   string `json:"dn"`
	}
	// KillRequest is the body of POST /kill; Server defaults to "all" and
	// Mode to "close".
	KillRequest struct {
		Site   int       `json:"site"`
		Server Server    `json:"server,omitempty"`
		Mode   FaultMode `json:"mode,omitempty"`
	}
	// ReviveRequest is the body of POST /revive; Server defaults to "all".
	ReviveRequest struct {
		Site   int    `json:"site"`
		Server Server `json:"server,omitempty"`
	}
	// MessagesRequest is the body of POST /mwi: the voice messages waiting
	// in DN's mailbox, at whichever site has the DN.
	MessagesRequest struct {
		DN  string `json:"dn"`
		New int    `json:"new"`
		Old int    `json:"old"`
	}
	// ForceLogoutRequest is the body of POST /force-logout; Agent is an
	// agent id or a user name.
	ForceLogoutRequest struct {
		Site   int    `json:"site"`
		Agent  string `json:"agent"`
		Reason string `json:"reason"`
	}
)

// OK is the answer of a successful POST.
type OK struct {
	OK bool `json:"ok"`
}

// APIError is the body of every 4xx/5xx answer.
type APIError struct {
	Status  int    `json:"-"`
	Message string `json:"error"`
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// Handler is the control interface: HTTP with JSON, for loopback only.
//
//	GET  /status                  Status
//	POST /expire-registration     ExpireRequest
//	POST /graceful-shutdown       SiteRequest
//	POST /kill                    KillRequest
//	POST /revive                  ReviveRequest
//	POST /force-logout            ForceLogoutRequest
//	GET  /events?since=N[&follow=1]  LogEntry as JSON lines
//	POST /call                    CallRequest → CallAnswer
//	POST /hangup                  HangupRequest
//	GET  /calls                   []CallStatus
//	POST /mwi                     MessagesRequest
func (s *Sim) Handler() http.Handler {
	type route struct {
		method string
		h      http.HandlerFunc
	}
	routes := map[string]route{
		"/status": {http.MethodGet, func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, s.Status())
		}},
		"/expire-registration": {http.MethodPost, post(s, func(site *Site, r ExpireRequest) error {
			if r.DN == "" {
				return invalidf("dn is required")
			}
			return site.ExpireRegistration(r.DN)
		})},
		"/graceful-shutdown": {http.MethodPost, post(s, func(site *Site, _ SiteRequest) error {
			site.GracefulShutdown()
			return nil
		})},
		"/kill": {http.MethodPost, post(s, func(site *Site, r KillRequest) error {
			if r.Server == "" {
				r.Server = ServerAll
			}
			if r.Mode == "" {
				r.Mode = ModeClose
			}
			return site.Kill(r.Server, r.Mode)
		})},
		"/revive": {http.MethodPost, post(s, func(site *Site, r ReviveRequest) error {
			if r.Server == "" {
				r.Server = ServerAll
			}
			return site.Revive(r.Server)
		})},
		"/force-logout": {http.MethodPost, post(s, func(site *Site, r ForceLogoutRequest) error {
			if r.Agent == "" {
				return invalidf("agent is required")
			}
			return site.ForceLogout(r.Agent, r.Reason)
		})},
		"/events": {http.MethodGet, s.events},
		"/call": {http.MethodPost, func(w http.ResponseWriter, r *http.Request) {
			req, ok := decode[CallRequest](w, r)
			if !ok {
				return
			}
			id, err := s.Call(req)
			answer(w, err, CallAnswer{Call: id})
		}},
		"/hangup": {http.MethodPost, func(w http.ResponseWriter, r *http.Request) {
			req, ok := decode[HangupRequest](w, r)
			if !ok {
				return
			}
			answer(w, s.Hangup(req.Call), OK{OK: true})
		}},
		"/calls": {http.MethodGet, func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, s.Calls())
		}},
		"/mwi": {http.MethodPost, func(w http.ResponseWriter, r *http.Request) {
			req, ok := decode[MessagesRequest](w, r)
			if !ok {
				return
			}
			answer(w, s.SetMessages(req.DN, req.New, req.Old), OK{OK: true})
		}},
	}
	// A router of its own rather than http.ServeMux, whose 404 and 405
	// answers are plain text: every error here is JSON.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt, ok := routes[r.URL.Path]
		if !ok {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no endpoint %s (see docs/simulator.md)", r.URL.Path))
			return
		}
		if r.Method != rt.method {
			w.Header().Set("Allow", rt.method)
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s wants %s, not %s", r.URL.Path, rt.method, r.Method))
			return
		}
		rt.h(w, r)
	})
}

// siteOf is implemented by every request body: they all name a site.
type siteOf interface{ site() int }

func (r SiteRequest) site() int        { return r.Site }
func (r ExpireRequest) site() int      { return r.Site }
func (r KillRequest) site() int        { return r.Site }
func (r ReviveRequest) site() int      { return r.Site }
func (r ForceLogoutRequest) site() int { return r.Site }

// decode reads a request's JSON body into a T; on failure it answers 400
// and returns false.
func decode[T any](w http.ResponseWriter, r *http.Request) (T, bool) {
	var req T
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad JSON body: "+err.Error())
		return req, false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "bad JSON body: more than one value")
		return req, false
	}
	return req, true
}

// answer writes v, or err as a JSON error with its status.
func answer(w http.ResponseWriter, err error, v any) {
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, v)
	case errors.Is(err, ErrInvalid):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, ErrNotFound), errors.Is(err, tsim.ErrUnknownDN):
		writeError(w, http.StatusNotFound, err.Error())
	default:
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

// post decodes a JSON body of type T, finds its site and runs do.
func post[T siteOf](s *Sim, do func(*Site, T) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req, ok := decode[T](w, r)
		if !ok {
			return
		}
		switch n := req.site(); {
		case n == 0:
			writeError(w, http.StatusBadRequest, "site is required: 1 or 2")
			return
		case n != 1 && n != 2:
			writeError(w, http.StatusBadRequest, fmt.Sprintf("site %d: must be 1 or 2", n))
			return
		}
		site, err := s.Site(req.site())
		if err == nil {
			err = do(site, req)
		}
		answer(w, err, OK{OK: true})
	}
}

// events writes the logged events after ?since=N as JSON lines; with
// follow=1 it keeps writing new ones until the client goes away or the
// simulator closes. The header X-Sitesim-Oldest-Seq tells the oldest Seq
// still kept: events before it were dropped from the bounded log.
func (s *Sim) events(w http.ResponseWriter, r *http.Request) {
	var since uint64
	if v := r.URL.Query().Get("since"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("since=%q: not a sequence number", v))
			return
		}
		since = n
	}
	follow := false
	if v := r.URL.Query().Get("follow"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("follow=%q: not a boolean (1 or 0)", v))
			return
		}
		follow = b
	}
	entries, oldest, wake, closed := s.elog.since(since)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("X-Sitesim-Oldest-Seq", strconv.FormatUint(oldest, 10))
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	for {
		for _, e := range entries {
			if err := enc.Encode(e); err != nil {
				return
			}
			since = e.Seq
		}
		if !follow || closed {
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
		select {
		case <-wake:
		case <-r.Context().Done():
			return
		}
		entries, _, wake, closed = s.elog.since(since)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, APIError{Message: msg})
}
