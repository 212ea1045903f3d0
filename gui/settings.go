package gui

import (
	"context"
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"
)

var themeLabels = map[string]string{themeSystem: "System", themeLight: "Light", themeDark: "Dark"}

// settingsForm is the settings' content: the theme, and whether the tester
// menu shows.
func (u *UI) settingsForm() *widget.Form {
	choice := u.app.Preferences().StringWithFallback(prefTheme, themeSystem)
	themes := widget.NewRadioGroup([]string{"System", "Light", "Dark"}, func(label string) {
		for k, v := range themeLabels {
			if v == label {
				u.setTheme(k)
			}
		}
	})
	themes.Horizontal = true
	themes.Required = true
	themes.SetSelected(themeLabels[choice])
	tester := widget.NewCheck("Show the tester menu", u.setTesterMenu)
	tester.SetChecked(u.app.Preferences().Bool(prefTester))
	form := widget.NewForm(
		widget.NewFormItem("Theme", themes),
		widget.NewFormItem("Testing", tester),
	)
	u.sound = u.newAudioPanel()
	if u.sound != nil {
		for _, it := range u.sound.items {
			form.AppendItem(it)
		}
	}
	return form
}

func (u *UI) showSettings() {
	// A fixed width leaves the device names room.
	content := container.New(&fixedWidth{width: 540}, u.settingsForm())
	d := dialog.NewCustom("Settings", "Close", content, u.win)
	if p := u.sound; p != nil {
		p.startMeter()
		d.SetOnClosed(p.stopMeter)
	}
	d.Show()
}

func (u *UI) setTheme(choice string) {
	if u.app.Preferences().StringWithFallback(prefTheme, themeSystem) == choice {
		return
	}
	u.app.Preferences().SetString(prefTheme, choice)
	applyTheme(u.app, choice)
	u.repaint()
}

// repaint redraws what takes its colours from the theme when drawn.
func (u *UI) repaint() {
	u.main.banner.spec = bannerSpec{}
	u.main.activity.timelineSig, u.main.activity.noticeCount = "", -1
	u.render(u.st)
}

func (u *UI) setTesterMenu(on bool) {
	u.app.Preferences().SetBool(prefTester, on)
	u.win.SetMainMenu(u.menu())
}

// menu is the window's menu: the application's, and the tester's when the
// setting shows it.
func (u *UI) menu() *fyne.MainMenu {
	app := fyne.NewMenu("Tandem",
		fyne.NewMenuItem("Settings…", u.showSettings),
		fyne.NewMenuItem("About Tandem", u.showAbout),
	)
	if !u.app.Preferences().Bool(prefTester) {
		return fyne.NewMainMenu(app, u.callMenu())
	}
	return fyne.NewMainMenu(app, u.callMenu(), u.testerMenu())
}

// testerMenu holds the tester's actions: make a site's SIP registration
// expire (the site's SIP Server then logs the agent out, BC-18), re-launch
// the SIP endpoint, switch site.
func (u *UI) testerMenu() *fyne.Menu {
	expire := func(site int) *fyne.MenuItem {
		return fyne.NewMenuItem(fmt.Sprintf("Let the registration at site %d expire", site), func() {
			u.intent("expire registration", func(context.Context) error { return u.b.ExpireRegistration(site) }, u.testerDone)
		})
	}
	relaunch := fyne.NewMenuItem("Re-launch the SIP endpoint at the current site", func() {
		site := u.st.Site
		u.intent("relaunch", func(context.Context) error { return u.b.Relaunch(site) }, u.testerDone)
	})
	switchSite := fyne.NewMenuItem("Switch site", func() {
		u.intent("switch site", func(context.Context) error { return u.b.SwitchSite() }, u.testerDone)
	})
	return fyne.NewMenu("Tester", expire(1), expire(2), fyne.NewMenuItemSeparator(), relaunch, switchSite)
}

// testerDone shows a tester action's failure; its effects show in the State.
func (u *UI) testerDone(err error) {
	if err != nil {
		dialog.ShowError(fmt.Errorf("tester action: %w", err), u.win)
	}
}
