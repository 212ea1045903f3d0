package sipua

import (
	"errors"
	"fmt"
	"strings"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// errNoChallenge means a 401 or 407 offered nothing we can answer.
var errNoChallenge = errors.New("no digest challenge we can answer")

// challenge is the digest challenge picked from a 401 or 407, and the
// header our credentials go in.
type challenge struct {
	*digest.Challenge
	header string // "Authorization" or "Proxy-Authorization"
}

// pickChallenge returns the challenge of res to answer. sipgo's
// DoDigestAuth answers only the first WWW-Authenticate header; a registrar
// may offer several (RFC 8760: one per algorithm, most preferred first), so
// this takes the topmost one whose algorithm and qop we support.
func pickChallenge(res *sip.Response) (challenge, error) {
	name, header := "WWW-Authenticate", "Authorization"
	if res.StatusCode == sip.StatusProxyAuthRequired {
		name, header = "Proxy-Authenticate", "Proxy-Authorization"
	}
	values := make([]string, 0, 2)
	for _, h := range res.GetHeaders(name) {
		values = append(values, h.Value())
	}
	ch, err := firstSupported(values)
	if err != nil {
		return challenge{}, err
	}
	return challenge{Challenge: ch, header: header}, nil
}

// firstSupported parses challenge header values and returns the first one
// that can be answered.
func firstSupported(values []string) (*digest.Challenge, error) {
	var offered []string
	for _, v := range values {
		ch, err := digest.ParseChallenge(v)
		if err != nil {
			continue
		}
		for i, q := range ch.QOP {
			ch.QOP[i] = strings.ToLower(strings.TrimSpace(q))
		}
		// Servers write "sha-256" too; digest matches upper case.
		ch.Algorithm = strings.ToUpper(ch.Algorithm)
		if ch.Nonce != "" && digest.CanDigest(ch) {
			return ch, nil
		}
		offered = append(offered, ch.Algorithm)
	}
	if len(offered) > 0 {
		return nil, fmt.Errorf("%w: offered algorithms %v", errNoChallenge, offered)
	}
	return nil, errNoChallenge
}

// authorize adds credentials answering ch to req.
func authorize(req *sip.Request, ch challenge, user, password string) error {
	cred, err := digest.Digest(ch.Challenge, digest.Options{
		Method:   string(req.Method),
		URI:      req.Recipient.String(),
		Username: user,
		Password: password,
	})
	if err != nil {
		return fmt.Errorf("digest: %w", err)
	}
	req.RemoveHeader(ch.header)
	req.AppendHeader(sip.NewHeader(ch.header, cred.String()))
	return nil
}
