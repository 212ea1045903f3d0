package core

import (
	"context"
	"errors"
	"fmt"

	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/sipua"
	"github.com/tandem-softphone/tandem/wire"
)

// resolveDNs finds the agent's DN at each site: the local configuration's,
// else the DN of the site's Place at the Config Server (BC-3). A DN once
// known is kept: the endpoint registers it for the whole run.
func (c *Core) resolveDNs(ctx context.Context, s *session) error {
	for i := range c.dns {
		c.mu.Lock()
		known := c.dns[i] != ""
		c.mu.Unlock()
		if known {
			continue
		}
		dn := c.cfg.Sites[i].DN
		if dn == "" {
			p, err := s.conf.Place(ctx, c.cfg.Sites[i].Place)
			if err != nil {
				c.log.Warn("no DN for a site", "site", i+1, "place", c.cfg.Sites[i].Place, "err", err)
				continue
			}
			dn = p.DN
		}
		c.mu.Lock()
		c.dns[i] = dn
		if c.cur == s && s.site == i+1 {
			c.st.Agent.DN = dn
		}
		c.mu.Unlock()
	}
	if c.dn(s.site) == "" {
		return fmt.Errorf("site %d: no DN for place %s", s.site, c.cfg.Sites[s.site-1].Place)
	}
	return nil
}

// startEndpoint starts the SIP endpoint, once: an account per site, the
// DN's SIP password read from its CfgDN annex (never from a file), and
// registered at both sites until Quit (BC-2).
func (c *Core) startEndpoint(ctx context.Context, s *session, step func(string)) error {
	c.mu.Lock()
	started := c.ep != nil
	c.mu.Unlock()
	if started {
		return nil
	}
	var accts []sipua.Account
	for i, sc := range c.cfg.Sites {
		site := i + 1
		dn := c.dn(site)
		registrar := sc.SIP.Registrar.String()
		if registrar == "" {
			c.mu.Lock()
			conn, ok := c.apps[i].Connection(wire.ConnTypeSIPRegistrar)
			c.mu.Unlock()
			if ok {
				registrar = conn.Primary
			}
		}
		var err error
		var pw string
		switch {
		case dn == "":
			err = errors.New("no DN")
		case registrar == "":
			err = errors.New("no SIP registrar, neither configured nor in the application's connections")
		default:
			pw, err = s.conf.DNPassword(ctx, site, dn)
		}
		if err != nil {
			c.notify(continuity.Alarm, site, fmt.Sprintf("site %d: the phone cannot register there: %v", site, err))
			continue
		}
		accts = append(accts, sipua.Account{
			Site:          siteName(site),
			Registrar:     registrar,
			Transport:     sc.SIP.Transport,
			Domain:        sc.SIP.Domain,
			User:          dn,
			Password:      pw,
			Expires:       c.opts.SIPExpires,
			TLSServerName: sc.SIP.TLSServerName,
		})
	}
	if len(accts) == 0 {
		return errors.New("SIP endpoint: no site to register at")
	}
	o := c.opts.Endpoint
	if o.InstanceID == "" && c.opts.StateDir != "" {
		id, err := loadInstanceID(c.opts.StateDir)
		if err != nil {
			c.log.Warn("SIP instance ID", "err", err)
		}
		o.InstanceID = id
	}
	c.applyAudioDevices(&o)
	o.Accounts = accts
	o.OnEvent = c.onSIP
	if o.Logger == nil {
		o.Logger = c.log
	}
	if o.TLSRootCAs == nil {
		o.TLSRootCAs = c.rootCAs
	}
	ep, err := sipua.New(o)
	if err != nil {
		return err
	}
	if err := ep.Start(c.ctx); err != nil {
		return err
	}
	c.mu.Lock()
	c.ep = ep
	c.mu.Unlock()
	// A choice made while the endpoint started reaches it too (no change
	// otherwise: the same devices are not reopened).
	c.aud.mu.Lock()
	d := c.aud.devices
	if err := ep.SetAudioDevices(d.Input, d.Output); err != nil {
		c.log.Warn("audio devices", "input", deviceLabel(d.Input), "output", deviceLabel(d.Output), "err", err)
	}
	c.aud.mu.Unlock()
	step("SIP endpoint started")
	return nil
}

// endpoint returns the SIP endpoint if it registers at site.
func (c *Core) endpoint(site int) (*sipua.Endpoint, error) {
	if site != 1 && site != 2 {
		return nil, fmt.Errorf("site %d: must be 1 or 2", site)
	}
	c.mu.Lock()
	ep := c.ep
	c.mu.Unlock()
	if ep == nil {
		return nil, ErrNoEndpoint
	}
	return ep, nil
}

// onSIP records the endpoint's registrations per site, and its calls.
func (c *Core) onSIP(ev sipua.Event) {
	var re sipua.RegistrationEvent
	switch e := ev.(type) {
	case sipua.RegistrationEvent:
		re = e
	case sipua.CallEvent:
		c.onCall(e)
		c.updateRinging()
		return
	case sipua.MediaEvent:
		c.onMedia(e)
		return
	case sipua.SubscriptionEvent:
		c.onSubscription(e)
		return
	default:
		return
	}
	site := 0
	switch re.Site {
	case siteName(1):
		site = 1
	case siteName(2):
		site = 2
	default:
		return
	}
	c.mu.Lock()
	c.st.Sites[site-1].SIP = Registration{State: re.State.String(), Code: re.Code, Reason: re.Reason}
	c.mu.Unlock()
	c.publish()
	if re.State == sipua.RegistrationRegistered {
		c.ensureMWI(site)
	}
}
