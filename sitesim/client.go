package sitesim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Client is a Go client of the control interface.
type Client struct {
	base string
	hc   *http.Client
}

// NewClient returns a client of the control interface at addr (host:port).
func NewClient(addr string) *Client {
	return &Client{base: "http://" + addr, hc: &http.Client{}}
}

// Status returns the simulator's state.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.do(ctx, http.MethodGet, "/status", nil, &st)
	return st, err
}

// ExpireRegistration drops dn's SIP registration at a site, as if it had expired.
func (c *Client) ExpireRegistration(ctx context.Context, site int, dn string) error {
	return c.do(ctx, http.MethodPost, "/expire-registration", ExpireRequest{Site: site, DN: dn}, nil)
}

// GracefulShutdown starts a site's graceful shutdown.
func (c *Client) GracefulShutdown(ctx context.Context, site int) error {
	return c.do(ctx, http.MethodPost, "/graceful-shutdown", SiteRequest{Site: site}, nil)
}

// Kill makes a site's servers fail; empty server and mode mean all and close.
func (c *Client) Kill(ctx context.Context, site int, server Server, mode FaultMode) error {
	return c.do(ctx, http.MethodPost, "/kill", KillRequest{Site: site, Server: server, Mode: mode}, nil)
}

// Revive brings a site's servers back; empty server means all.
func (c *Client) Revive(ctx context.Context, site int, server Server) error {
	return c.do(ctx, http.MethodPost, "/revive", ReviveRequest{Site: site, Server: server}, nil)
}

// ForceLogout is a supervisor's logout of an agent (id or user name) at a site.
func (c *Client) ForceLogout(ctx context.Context, site int, agent, reason string) error {
	return c.do(ctx, http.MethodPost, "/force-logout", ForceLogoutRequest{Site: site, Agent: agent, Reason: reason}, nil)
}

// Call has a simulated customer call a number through a site and returns
// the call's id.
func (c *Client) Call(ctx context.Context, r CallRequest) (string, error) {
	var a CallAnswer
	err := c.do(ctx, http.MethodPost, "/call", r, &a)
	return a.Call, err
}

// Hangup ends a call of the simulated customers or test numbers.
func (c *Client) Hangup(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodPost, "/hangup", HangupRequest{Call: id}, nil)
}

// SetMessages sets the voice messages waiting in a DN's mailbox.
func (c *Client) SetMessages(ctx context.Context, dn string, newMsgs, oldMsgs int) error {
	return c.do(ctx, http.MethodPost, "/mwi", MessagesRequest{DN: dn, New: newMsgs, Old: oldMsgs}, nil)
}

// Calls lists the calls of the simulated customers and test numbers.
func (c *Client) Calls(ctx context.Context) ([]CallStatus, error) {
	var calls []CallStatus
	err := c.do(ctx, http.MethodGet, "/calls", nil, &calls)
	return calls, err
}

// Events calls fn with every logged event after since, in order. With
// follow it waits for new ones until ctx ends (then it returns nil), the
// simulator closes, or fn fails.
func (c *Client) Events(ctx context.Context, since uint64, follow bool, fn func(LogEntry) error) error {
	q := "/events?since=" + strconv.FormatUint(since, 10)
	if follow {
		q += "&follow=1"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+q, nil)
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		if follow && ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("events: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("events: %w", apiError(res))
	}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var e LogEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return fmt.Errorf("events: line %q: %w", sc.Text(), err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil && !(follow && ctx.Err() != nil) {
		return fmt.Errorf("events: %w", err)
	}
	return nil
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	name := strings.TrimPrefix(path, "/")
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %w", name, apiError(res))
	}
	if out == nil {
		out = &OK{}
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 16<<20)).Decode(out); err != nil {
		return fmt.Errorf("%s: answer: %w", name, err)
	}
	return nil
}

// apiError reads an error answer.
func apiError(res *http.Response) error {
	e := &APIError{Status: res.StatusCode}
	b, _ := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if json.Unmarshal(b, e) != nil || e.Message == "" {
		e.Message = strings.TrimSpace(string(b))
	}
	return e
}
