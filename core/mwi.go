package core

import (
	"errors"
	"strings"

	"github.com/tandem-softphone/tandem/sipua"
)

// Voicemail is the agent's voice messages as a site's voicemail server
// reports them (message-summary subscription, RFC 3842).
type Voicemail struct {
	Known   bool // a summary has arrived
	Waiting bool // the server says new messages wait
	New     int
	Old     int
	Site    int // the site whose server reported it
}

// mwiState is the voicemail subscriptions' bookkeeping, one per site: the
// endpoint subscribes through each site it is registered at, so that the
// count survives a site's loss (BC-2). Guarded by Core.mu.
type mwiState struct {
	subscribing [2]bool      // a SUBSCRIBE is under way
	refused     [2]bool      // the site answered with a refusal: not asked again this run
	sites       [2]Voicemail // the last summary per site
}

// ensureMWI subscribes to the agent's voicemail through a site, unless a
// subscription there is alive (it refreshes itself) or is being made. It is
// called whenever the site's registration succeeds, so that a subscription
// lost with its site is made again once the site is back.
func (c *Core) ensureMWI(site int) {
	c.mu.Lock()
	ep := c.ep
	i := site - 1
	if ep == nil || c.closing.Load() || c.mwi.subscribing[i] || c.mwi.refused[i] {
		c.mu.Unlock()
		return
	}
	c.mwi.subscribing[i] = true
	c.mu.Unlock()
	go func() {
		refused := false
		defer func() {
			c.mu.Lock()
			c.mwi.subscribing[i] = false
			c.mwi.refused[i] = c.mwi.refused[i] || refused
			c.mu.Unlock()
		}()
		for _, s := range ep.Subscriptions() {
			info := s.Info()
			if info.Site == siteName(site) && strings.EqualFold(info.Event, sipua.EventMessageSummary) &&
				info.State != sipua.SubscriptionTerminated {
				return
			}
		}
		// The site's configured mailbox (config key siteN.sip.mailbox);
		// "" is the agent's own address of record at the site.
		box := c.cfg.Sites[i].SIP.Mailbox
		_, err := ep.Subscribe(sipua.SubscribeOptions{Site: siteName(site), Event: sipua.EventMessageSummary, Target: box})
		switch {
		case err == nil:
		case errors.Is(err, sipua.ErrSubscriptionRefused):
			refused = true
			c.log.Info("no voicemail at this site: the message-summary subscription was refused", "site", site, "err", err)
		default:
			c.log.Info("voicemail subscription failed; tried again at the next registration", "site", site, "err", err)
		}
	}()
}

// onSubscription records a site's message summary.
func (c *Core) onSubscription(ev sipua.SubscriptionEvent) {
	if !strings.EqualFold(ev.Event, sipua.EventMessageSummary) {
		return
	}
	site := siteNumber(ev.Site)
	if site == 0 {
		return
	}
	vm := Voicemail{Site: site}
	if m, ok := ev.Content.(sipua.MessageSummary); ok && ev.State != sipua.SubscriptionTerminated {
		v := m.Voice()
		vm = Voicemail{Known: true, Waiting: m.Waiting, New: v.New, Old: v.Old, Site: site}
	}
	c.mu.Lock()
	changed := c.mwi.sites[site-1] != vm
	c.mwi.sites[site-1] = vm
	c.mu.Unlock()
	if changed {
		c.publish()
	}
}

// pickVoicemail is the summary shown: the current site's, else the other
// site's (the mailbox is the agent's wherever it works).
func pickVoicemail(sites [2]Voicemail, current int) Voicemail {
	if current == 1 || current == 2 {
		if vm := sites[current-1]; vm.Known {
			return vm
		}
	}
	for _, vm := range sites {
		if vm.Known {
			return vm
		}
	}
	return Voicemail{}
}
