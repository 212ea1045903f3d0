package gui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/core"
	"github.com/tandem-softphone/tandem/wire"
)

// loginView asks for the user name and password.
type loginView struct {
	u        *UI
	content  fyne.CanvasObject
	user     *widget.Entry
	password *widget.Entry
	button   *widget.Button
	busy     *widget.Activity
	sites    *widget.Label
	errTitle *widget.Label
	errText  *widget.Label
	// failure is the error the last Login returned, shown when the State
	// does not say more (a timeout, a login already under way).
	failure error
}

func newLoginView(u *UI) *loginView {
	v := &loginView{u: u}
	v.user = widget.NewEntry()
	v.user.SetPlaceHolder("User name")
	v.user.SetText(u.app.Preferences().String(prefLastUser))
	v.password = widget.NewPasswordEntry()
	v.password.SetPlaceHolder("Password")
	v.password.OnSubmitted = func(string) { v.submit() }
	v.user.OnSubmitted = func(string) { u.win.Canvas().Focus(v.password) }
	v.button = widget.NewButtonWithIcon("Log in", theme.LoginIcon(), v.submit)
	v.button.Importance = widget.HighImportance
	v.busy = widget.NewActivity()
	v.busy.Hide()
	v.sites = widget.NewLabel("")
	v.sites.Wrapping = fyne.TextWrapWord
	v.sites.Importance = widget.MediumImportance
	v.errTitle = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	v.errTitle.Importance = widget.DangerImportance
	v.errTitle.Wrapping = fyne.TextWrapWord
	v.errText = widget.NewLabel("")
	v.errText.Wrapping = fyne.TextWrapWord

	icon := appIcon(96)
	title := widget.NewLabelWithStyle("Tandem", fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	title.SizeName = theme.SizeNameHeadingText
	sub := widget.NewLabelWithStyle("Agent softphone", fyne.TextAlignCenter, fyne.TextStyle{})

	form := widget.NewForm(
		widget.NewFormItem("User name", v.user),
		widget.NewFormItem("Password", v.password),
	)
	card := widget.NewCard("", "", container.NewVBox(
		form,
		v.button,
		v.errTitle,
		v.errText,
		container.NewBorder(nil, nil, v.busy, nil, v.sites),
	))
	// A fixed width keeps the wrapped texts from stretching the window.
	column := container.New(&fixedWidth{width: 420}, container.NewVBox(
		container.NewCenter(icon), title, sub, card,
	))
	v.content = container.NewVScroll(container.NewVBox(
		layout.NewSpacer(),
		container.NewCenter(column),
		layout.NewSpacer(),
	))
	return v
}

func (v *loginView) submit() {
	if v.u.loggingIn {
		return
	}
	user := strings.TrimSpace(v.user.Text)
	password := v.password.Text
	v.u.loggingIn = true
	v.u.loggedOutByMe = false
	v.failure = nil
	v.u.app.Preferences().SetString(prefLastUser, user)
	v.render(v.u.st)
	v.u.intent("login", func(ctx context.Context) error {
		return v.u.b.Login(ctx, user, password)
	}, func(err error) {
		v.u.loggingIn = false
		v.failure = err
		if err == nil {
			v.u.session = true
		}
		v.u.render(v.u.st)
	})
}

// render shows the login's progress and why it failed.
func (v *loginView) render(st core.State) {
	busy := v.u.loggingIn
	if busy {
		v.button.Disable()
		v.user.Disable()
		v.password.Disable()
		v.busy.Show()
		v.busy.Start()
	} else {
		v.button.Enable()
		v.user.Enable()
		v.password.Enable()
		v.busy.Stop()
		v.busy.Hide()
	}
	v.sites.SetText(loginSitesText(st, busy, v.u.opts.Now()))

	title, detail := loginErrorText(st.LoginError)
	switch {
	case busy:
		title, detail = "", ""
	case title == "" && v.failure != nil:
		title, detail = "Login failed.", v.failure.Error()
	case title == "" && !v.u.loggedOutByMe && st.Phase == continuity.LoggedOut &&
		st.Agent.State == wire.StateLoggedOut && st.Agent.Reason != "":
		// A supervisor's logout (BC-17): the agent is told why.
		title, detail = "You were logged out by a supervisor.", "Reason: "+st.Agent.Reason
	}
	v.errTitle.SetText(title)
	v.errText.SetText(detail)
	v.errTitle.Hidden = title == ""
	v.errText.Hidden = detail == ""
	// Wrapped texts changed height: lay the view out again.
	v.content.Refresh()
}

// loginSitesText says where the login goes: Tandem starts at the agent's
// preferred site, and at the other one when it cannot be reached (BC-9);
// when neither could, when it tries again (BC-22).
func loginSitesText(st core.State, busy bool, now time.Time) string {
	if busy {
		switch st.Phase {
		case continuity.Waiting:
			return "No site answered yet; trying again…"
		case continuity.Connecting:
			if st.Site != 0 {
				return fmt.Sprintf("Connecting to %s…", siteName(st, st.Site))
			}
		}
		return "Logging in…"
	}
	if st.LoginError.Kind == core.ErrorUnreachable {
		for _, c := range st.Countdowns {
			if c.What == "next attempt" {
				return "Next attempt to reach a site " + inSeconds(c.At, now) + "."
			}
		}
	}
	return fmt.Sprintf("You will be logged in at your preferred site. Sites: %s and %s.",
		siteName(st, 1), siteName(st, 2))
}

// fixedWidth lays its objects out at one width, whatever the space.
type fixedWidth struct{ width float32 }

func (l *fixedWidth) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Resize(fyne.NewSize(l.width, size.Height))
		o.Move(fyne.NewPos(0, 0))
	}
}

func (l *fixedWidth) MinSize(objs []fyne.CanvasObject) fyne.Size {
	h := float32(0)
	for _, o := range objs {
		h = max(h, o.MinSize().Height)
	}
	return fyne.NewSize(l.width, h)
}
