package gui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/tandem-softphone/tandem/assets"
	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/core"
)

// savedCallsPrompt offers the calls an earlier run left connected when
// Tandem stopped without hanging up (State.SavedCalls, BC-30): Restore
// continues them here, Discard forgets them. It shows on the main view,
// after the login: restoring needs the SIP endpoint, which the login
// starts.
type savedCallsPrompt struct {
	u       *UI
	banner  *banner
	restore *widget.Button
	discard *widget.Button
	dismiss *widget.Button
	// failed is the last Restore or Discard failure, shown until the
	// agent dismisses it or the next one succeeds; the core has taken the
	// offer out of the State by then, so the prompt stays for it.
	failed string
	busy   bool // an intent is under way
	st     core.State
}

func newSavedCallsPrompt(u *UI) *savedCallsPrompt {
	p := &savedCallsPrompt{u: u, banner: newBanner()}
	p.restore = widget.NewButtonWithIcon("Restore", theme.NewThemedResource(assets.Call), p.onRestore)
	p.restore.Importance = widget.HighImportance
	p.discard = widget.NewButtonWithIcon("Discard", theme.DeleteIcon(), p.onDiscard)
	p.dismiss = widget.NewButtonWithIcon("Dismiss", theme.CancelIcon(), p.onDismiss)
	p.dismiss.Importance = widget.LowImportance
	p.banner.setActions(p.restore, p.discard, p.dismiss)
	return p
}

func (p *savedCallsPrompt) render(st core.State, now time.Time) {
	p.st = st
	offer := len(st.SavedCalls) > 0
	show(p.restore, offer)
	show(p.discard, offer)
	show(p.dismiss, !offer && p.failed != "")
	// Restoring needs the SIP endpoint, which is up once logged in.
	enable(p.restore, !p.busy && st.Phase == continuity.LoggedIn)
	enable(p.discard, !p.busy)
	p.banner.show(savedCallsBanner(st.SavedCalls, p.failed, now))
}

// savedCallsBanner is what the prompt says: the offer, with the last
// failure below it, or the failure alone once the offer is gone.
func savedCallsBanner(saved []core.SavedCall, failed string, now time.Time) bannerSpec {
	switch {
	case len(saved) > 0:
		detail := "Restore continues them here; Discard forgets them without telling the other party."
		if len(saved) == 1 {
			detail = "Restore continues it here; Discard forgets it without telling the other party."
		}
		if failed != "" {
			return bannerSpec{kind: bannerError, title: savedCallsText(saved, now), detail: failed}
		}
		return bannerSpec{kind: bannerInfo, title: savedCallsText(saved, now), detail: detail}
	case failed != "":
		return bannerSpec{kind: bannerError, title: "The saved calls could not all be restored", detail: failed}
	}
	return bannerSpec{}
}

// savedCallsText is "1 call was still connected when Tandem stopped: with
// Bob, since 14:02".
func savedCallsText(saved []core.SavedCall, now time.Time) string {
	calls := make([]string, 0, len(saved))
	for _, sc := range saved {
		s := "with " + savedPeer(sc)
		if !sc.Since.IsZero() {
			s += ", since " + clockTime(sc.Since, now)
		}
		calls = append(calls, s)
	}
	head := "1 call was"
	if len(saved) > 1 {
		head = fmt.Sprintf("%d calls were", len(saved))
	}
	return head + " still connected when Tandem stopped: " + strings.Join(calls, "; ")
}

// savedPeer names a saved call's other party like a call's (peerText).
func savedPeer(sc core.SavedCall) string {
	if sc.PeerName != "" {
		return sc.PeerName
	}
	return strings.TrimPrefix(strings.TrimPrefix(sc.Peer, "sip:"), "sips:")
}

// clockTime is a time of day, with the date when it is not today's.
func clockTime(t, now time.Time) string {
	if y, m, d := t.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return t.Format("15:04")
	}
	return t.Format("2 Jan 15:04")
}

func (p *savedCallsPrompt) onRestore() {
	p.run("restore saved calls", "Restore", p.u.b.RestoreSavedCalls)
}

func (p *savedCallsPrompt) onDiscard() {
	p.run("discard saved calls", "Discard", p.u.b.DiscardSavedCalls)
}

func (p *savedCallsPrompt) onDismiss() {
	p.failed = ""
	p.render(p.st, p.u.opts.Now())
}

// run sends an intent; its failure shows in the prompt.
func (p *savedCallsPrompt) run(name, what string, call func() error) {
	p.busy = true
	p.render(p.st, p.u.opts.Now())
	p.u.intent(name, func(context.Context) error { return call() }, func(err error) {
		p.busy = false
		p.failed = ""
		if err != nil {
			p.failed = what + " failed: " + err.Error()
		}
		p.render(p.u.st, p.u.opts.Now())
	})
}
