package gui

import (
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/tandem-softphone/tandem/core"
)

// voicemailBadge shows the agent's voice messages in the header, once a
// site's voicemail server reported them (message-summary).
type voicemailBadge struct {
	box   *fyne.Container
	icon  *widget.Icon
	badge *badge
}

func newVoicemailBadge() *voicemailBadge {
	v := &voicemailBadge{icon: widget.NewIcon(theme.MailComposeIcon()), badge: newBadge("", theme.ColorNamePrimary)}
	v.box = container.NewHBox(v.icon, container.NewCenter(v.badge.box))
	v.box.Hide()
	return v
}

func (v *voicemailBadge) render(st core.State) {
	text, waiting := voicemailText(st.Voicemail)
	if text == "" {
		v.box.Hide()
		return
	}
	v.badge.colour = theme.ColorNamePrimary
	if waiting {
		v.badge.colour = theme.ColorNameWarning
	}
	v.badge.text.Text = text
	v.badge.paint()
	v.box.Show()
	v.box.Refresh()
}

// voicemailText is the voice messages in the agent's words, and whether new
// ones wait; "" before any report.
func voicemailText(vm core.Voicemail) (string, bool) {
	if !vm.Known {
		return "", false
	}
	switch {
	case vm.New > 0:
		return fmt.Sprintf("Voicemail: %d new, %d old", vm.New, vm.Old), true
	case vm.Waiting:
		// The server says messages wait but gives no voice count.
		return "Voicemail: new messages", true
	case vm.Old > 0:
		return fmt.Sprintf("Voicemail: no new, %d old", vm.Old), false
	}
	return "Voicemail: no messages", false
}
