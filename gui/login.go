package gui

import (
	"context"
	"errors"
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
	"github.com/tandem-softphone/tandem/internal/credstore"
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
	// site chooses where to log in: the preferred site or one of the two.
	site *widget.Select
	// remember keeps the password in the OS keyring; keyNote says softly
	// when that cannot be done.
	remember *widget.Check
	keyNote  *widget.Label
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

	v.site = widget.NewSelect(siteChoices(u.st), func(string) {
		u.app.Preferences().SetInt(prefSite, v.chosenSite())
		v.sites.SetText(loginSitesText(u.st, u.loggingIn, u.opts.Now(), v.chosenSite()))
	})
	v.site.SetSelectedIndex(min(max(u.app.Preferences().Int(prefSite), 0), 2))
	v.remember = widget.NewCheck("Remember the password on this computer", nil)
	v.keyNote = caption("")
	v.keyNote.Wrapping = fyne.TextWrapWord
	v.keyNote.Hide()

	items := []*widget.FormItem{
		widget.NewFormItem("User name", v.user),
		widget.NewFormItem("Password", v.password),
		widget.NewFormItem("Site", v.site),
	}
	if u.opts.Passwords == nil {
		v.remember.Hide()
	}
	form := widget.NewForm(items...)
	card := widget.NewCard("", "", container.NewVBox(
		form,
		v.remember,
		v.keyNote,
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
	site := v.chosenSite()
	v.u.loggingIn = true
	v.u.loggedOutByMe = false
	v.failure = nil
	v.u.app.Preferences().SetString(prefLastUser, user)
	v.render(v.u.st)
	v.u.intent("login", func(ctx context.Context) error {
		return v.u.b.Login(ctx, user, password, site)
	}, func(err error) {
		v.u.loggingIn = false
		v.failure = err
		if err == nil {
			v.u.session = true
			v.savePassword(user, password, v.remember.Checked)
		}
		v.u.render(v.u.st)
	})
}

// chosenSite is the site choice: 0 the preferred site, else 1 or 2.
func (v *loginView) chosenSite() int { return max(v.site.SelectedIndex(), 0) }

// siteChoices are the site choice's options, in site order after the
// automatic one.
func siteChoices(st core.State) []string {
	return []string{"Preferred site (automatic)", siteName(st, 1), siteName(st, 2)}
}

// loadPassword fills the password of the last user from the keyring, off
// the UI goroutine: the keyring may take a while to answer (D-Bus).
func (v *loginView) loadPassword() {
	store, user := v.u.opts.Passwords, strings.TrimSpace(v.user.Text)
	if store == nil || user == "" {
		return
	}
	v.u.async(func() {
		pw, err := store.Get(user)
		fyne.Do(func() {
			switch {
			case err == nil:
				if v.password.Text == "" && strings.TrimSpace(v.user.Text) == user {
					v.password.SetText(pw)
					v.remember.SetChecked(true)
				}
			case errors.Is(err, credstore.ErrNotFound):
			default:
				v.keyringFailed(err)
			}
		})
	})
}

// savePassword stores (or forgets) the password after a successful login,
// off the UI goroutine. A keyring that cannot be used is said softly: the
// login itself worked.
func (v *loginView) savePassword(user, password string, keep bool) {
	store := v.u.opts.Passwords
	if store == nil || user == "" {
		return
	}
	v.u.async(func() {
		var err error
		if keep {
			err = store.Set(user, password)
		} else {
			err = store.Delete(user)
		}
		if err != nil {
			fyne.Do(func() { v.keyringFailed(err) })
		}
	})
}

func (v *loginView) keyringFailed(err error) {
	v.u.log.Warn("password keyring", "err", err)
	v.keyNote.SetText("The password cannot be remembered: the system keyring is not available on this computer.")
	v.keyNote.Show()
	v.remember.SetChecked(false)
	v.remember.Disable()
}

// render shows the login's progress and why it failed.
func (v *loginView) render(st core.State) {
	busy := v.u.loggingIn
	if opts := siteChoices(st); opts[1] != v.site.Options[1] || opts[2] != v.site.Options[2] {
		i := v.site.SelectedIndex()
		v.site.SetOptions(opts)
		v.site.SetSelectedIndex(i)
	}
	if busy {
		v.button.Disable()
		v.user.Disable()
		v.password.Disable()
		v.site.Disable()
		v.busy.Show()
		v.busy.Start()
	} else {
		v.button.Enable()
		v.user.Enable()
		v.password.Enable()
		v.site.Enable()
		v.busy.Stop()
		v.busy.Hide()
	}
	v.sites.SetText(loginSitesText(st, busy, v.u.opts.Now(), v.chosenSite()))

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
func loginSitesText(st core.State, busy bool, now time.Time, chosen int) string {
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
	// A line each, so that the site labels need not wrap: Fyne's wrapping
	// breaks at no-break spaces too (keepTogether).
	if chosen == 1 || chosen == 2 {
		return fmt.Sprintf("You will be logged in at %s,\nor at %s if it cannot be reached.",
			siteName(st, chosen), siteName(st, otherSite(chosen)))
	}
	return fmt.Sprintf("You will be logged in at your preferred site.\nSites: %s and %s.",
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
