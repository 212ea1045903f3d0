// Package packaging holds the files that make Tandem's packages (nfpm.yaml,
// tandem.nsi, tandem.rc, examples/) and this test, which builds the Linux
// packages with scripts/package.sh and checks what they hold, compiles the
// Windows installer's script with a stand-in program, and checks a Windows
// installer that `make package` left in dist/.
package packaging

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"debug/pe"
	"encoding/hex"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/tandem-softphone/tandem/config"
)

const (
	appID = "io.github.tandem_softphone.tandem"
	// testVersion is past a tag, so that the Debian version's mapping shows.
	testVersion    = "1.2.3-4-gabcdef0"
	testDebVersion = "1.2.3+4.gabcdef0"
)

var (
	root   string // the repository
	tmpDir string // removed after the tests
)

func TestMain(m *testing.M) {
	code := func() int {
		var err error
		if root, err = filepath.Abs(".."); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if tmpDir, err = os.MkdirTemp("", "tandem-packaging-test-"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(tmpDir)
		return m.Run()
	}()
	os.Exit(code)
}

// script runs scripts/package.sh with args and extra environment.
func script(env []string, args ...string) (string, error) {
	cmd := exec.Command("bash", append([]string{filepath.Join(root, "scripts/package.sh")}, args...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// linuxPackages builds the Linux packages once, for every test that needs
// them, and returns their directory.
var linuxPackages = sync.OnceValues(func() (string, error) {
	if out, err := script(nil, "--tools", "linux"); err != nil {
		return "", &toolsError{fmt.Sprintf("cannot install fyne and nfpm: %v\n%s", err, out)}
	}
	dir := filepath.Join(tmpDir, "dist")
	builtFrom = headCommit()
	// xz's fastest level: the release's level costs 15 s of CPU more.
	env := []string{"TANDEM_VERSION=" + testVersion, "XZ_OPT=-0 -T0"}
	if out, err := script(env, "--out", dir, "linux"); err != nil {
		return "", fmt.Errorf("scripts/package.sh linux: %v\n%s", err, out)
	}
	return dir, nil
})

// toolsError: the packaging tools could not be installed (no module proxy).
type toolsError struct{ msg string }

func (e *toolsError) Error() string { return e.msg }

func builtPackages(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the packages are not built")
	}
	dir, err := linuxPackages()
	if te, ok := err.(*toolsError); ok {
		t.Skip(te.msg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func need(t *testing.T, tool, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Skipf("no %s (Debian %s; scripts/setup.sh installs it)", tool, pkg)
	}
}

// builtFrom is the commit the packages were built from: commits may land
// while the tests run.
var builtFrom string

// headCommit is the current commit, as the script stamps it, or "" outside a
// git work tree.
func headCommit() string {
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short=7", "HEAD").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// checkBinary runs a packaged binary's --version: it must print the
// stamped version and commit.
func checkBinary(t *testing.T, bin string) {
	t.Helper()
	out := run(t, bin, "--version")
	want := "Tandem " + testVersion + " (commit " + builtFrom
	if !strings.HasPrefix(out, want) {
		t.Errorf("%s --version = %q, want it to start with %q", bin, out, want)
	}
}

// checkDesktopEntry validates a desktop entry and checks that it starts the
// packaged binary with its icon.
func checkDesktopEntry(t *testing.T, file string) {
	t.Helper()
	need(t, "desktop-file-validate", "desktop-file-utils")
	if out, err := exec.Command("desktop-file-validate", file).CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("desktop-file-validate %s: %v\n%s", file, err, out)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Name=Tandem", "Exec=tandem", "Icon=" + appID, "Categories=Network;Telephony;"} {
		if !slices.Contains(strings.Split(string(data), "\n"), want) {
			t.Errorf("%s lacks the line %q:\n%s", file, want, data)
		}
	}
}

func checkIcon(t *testing.T, file string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil || cfg.Width != 512 || cfg.Height != 512 {
		t.Errorf("icon %s: %v, %dx%d; want a 512x512 PNG", file, err, cfg.Width, cfg.Height)
	}
}

func TestScriptVersion(t *testing.T) {
	out, err := script([]string{"TANDEM_VERSION="}, "--version")
	if err != nil {
		t.Fatalf("--version: %v\n%s", err, out)
	}
	want := ""
	if tag, err := exec.Command("git", "-C", root, "describe", "--tags", "--dirty", "--match", "v[0-9]*").Output(); err == nil {
		want = strings.TrimPrefix(strings.TrimSpace(string(tag)), "v")
	} else {
		var meta struct{ Details struct{ Version string } }
		if _, err := toml.DecodeFile(filepath.Join(root, "FyneApp.toml"), &meta); err != nil {
			t.Fatal(err)
		}
		want = meta.Details.Version
	}
	if got := strings.TrimSpace(out); got != want || want == "" {
		t.Errorf("--version = %q, want %q (the git tag, or FyneApp.toml's Version)", got, want)
	}
	if out, _ := script([]string{"TANDEM_VERSION=v2.0.1"}, "--version"); strings.TrimSpace(out) != "2.0.1" {
		t.Errorf("TANDEM_VERSION=v2.0.1: --version = %q", out)
	}
}

func TestTarball(t *testing.T) {
	dir := builtPackages(t)
	tarball := filepath.Join(dir, "tandem_"+testVersion+"_linux_amd64.tar.xz")
	x := filepath.Join(tmpDir, "tarball")
	if err := os.MkdirAll(x, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "tar", "-xJf", tarball, "-C", x)
	// fyne package puts the files under usr/local where the build machine
	// has one; its Makefile installs into the same place.
	usr := filepath.Join(x, "tandem", "usr")
	if _, err := os.Stat(filepath.Join(usr, "local")); err == nil {
		usr = filepath.Join(usr, "local")
	}
	checkBinary(t, filepath.Join(usr, "bin", "tandem"))
	checkDesktopEntry(t, filepath.Join(usr, "share", "applications", appID+".desktop"))
	checkIcon(t, filepath.Join(usr, "share", "pixmaps", appID+".png"))

	// The tarball's Makefile installs the three files.
	need(t, "make", "make")
	dest := filepath.Join(tmpDir, "tarball-install")
	run(t, "make", "-C", filepath.Join(x, "tandem"), "install", "DESTDIR="+dest, "PREFIX=/usr")
	for _, f := range []string{"usr/bin/tandem", "usr/share/applications/" + appID + ".desktop", "usr/share/pixmaps/" + appID + ".png"} {
		if _, err := os.Stat(filepath.Join(dest, f)); err != nil {
			t.Errorf("make install: %v", err)
		}
	}
}

func TestDeb(t *testing.T) {
	need(t, "dpkg-deb", "dpkg")
	dir := builtPackages(t)
	deb := filepath.Join(dir, "tandem_"+testDebVersion+"_amd64.deb")
	for field, want := range map[string]string{"Package": "tandem", "Version": testDebVersion, "Architecture": "amd64"} {
		if got := strings.TrimSpace(run(t, "dpkg-deb", "--field", deb, field)); got != want {
			t.Errorf("%s: %q, want %q", field, got, want)
		}
	}

	// Installed into a scratch root, never into this machine.
	r := filepath.Join(tmpDir, "debroot")
	run(t, "dpkg-deb", "-x", deb, r)
	bin := filepath.Join(r, "usr/bin/tandem")
	checkBinary(t, bin)
	checkDesktopEntry(t, filepath.Join(r, "usr/share/applications", appID+".desktop"))
	checkIcon(t, filepath.Join(r, "usr/share/icons/hicolor/512x512/apps", appID+".png"))
	if _, err := os.Stat(filepath.Join(r, "usr/share/doc/tandem/admin-guide.md")); err != nil {
		t.Error(err)
	}

	// The provisioning directory is there and empty: the package installs
	// no file that the desktop would read (config.DefaultPaths).
	sys, _ := config.DefaultPaths()
	etc := filepath.Join(r, filepath.Dir(sys))
	if entries, err := os.ReadDir(etc); err != nil || len(entries) != 0 {
		t.Errorf("%s: %v, %d entries; want an empty directory", etc, err, len(entries))
	}
	// The examples the admin guide names pass the packaged binary's check.
	for _, ex := range []string{"tandem.toml", config.PropertiesName} {
		file := filepath.Join(r, "usr/share/doc/tandem/examples", ex)
		if out, err := exec.Command(bin, "--check-config", file).CombinedOutput(); err != nil || !strings.Contains(string(out), ": OK (") {
			t.Errorf("--check-config %s: %v\n%s", ex, err, out)
		}
	}

	// Every library the binary links is in Depends.
	need(t, "dpkg", "dpkg")
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	libs, err := f.ImportedLibraries()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	depends := run(t, "dpkg-deb", "--field", deb, "Depends")
	deps := map[string]bool{}
	for _, d := range strings.Split(depends, ",") {
		for _, alt := range strings.Split(d, "|") {
			deps[strings.Fields(alt)[0]] = true
		}
	}
	for _, lib := range libs {
		out, err := exec.Command("dpkg", "-S", "*/"+lib).Output()
		if err != nil {
			t.Errorf("no installed package has %s", lib)
			continue
		}
		var owners []string
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			for _, p := range strings.Split(strings.SplitN(line, ":", 2)[0], ", ") {
				if name := strings.SplitN(p, ":", 2)[0]; !strings.HasSuffix(name, "-dev") {
					owners = append(owners, name)
				}
			}
		}
		if !slices.ContainsFunc(owners, func(o string) bool { return deps[o] }) {
			t.Errorf("the binary links %s (package %v), which Depends lacks: %s", lib, owners, depends)
		}
	}
}

func TestSums(t *testing.T) {
	dir := builtPackages(t)
	names := checkSums(t, dir)
	want := []string{"tandem_" + testDebVersion + "_amd64.deb", "tandem_" + testVersion + "_linux_amd64.tar.xz"}
	slices.Sort(names)
	if !slices.Equal(names, want) {
		t.Errorf("SHA256SUMS lists %v, want %v", names, want)
	}
}

// checkSums verifies every line of dir/SHA256SUMS and returns the files it
// names.
func checkSums(t *testing.T, dir string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("SHA256SUMS line %q", sc.Text())
		}
		content, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Error(err)
			continue
		}
		if h := sha256.Sum256(content); hex.EncodeToString(h[:]) != sum {
			t.Errorf("%s: the sum does not match", name)
		}
		names = append(names, name)
	}
	return names
}

// nsi is the installer script.
func nsi(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("tandem.nsi")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestNSISScript reads the installer script: silent installs never stop
// at a question, /CONFIG lands where the desktop reads its system-wide file,
// and the uninstaller removes every file the installer puts in place.
func TestNSISScript(t *testing.T) {
	s := nsi(t)
	for i, line := range strings.Split(s, "\n") {
		if l := strings.TrimSpace(line); strings.HasPrefix(l, "MessageBox") && !strings.Contains(l, "/SD ") {
			t.Errorf("line %d: a MessageBox without /SD stops a silent install: %s", i+1, l)
		}
	}
	// config.DefaultPaths on Windows: %ProgramData%\Tandem\tandem.toml, and
	// bc.properties beside it.
	for _, want := range []string{
		`${GetOptions} $R0 "/CONFIG=" $ConfigFile`,
		`ReadEnvStr $ProvDir "ProgramData"`,
		`StrCpy $ProvDir "$ProvDir\${APPNAME}"`,
		`!define APPNAME "Tandem"`,
		`StrCpy $ConfigName "tandem.toml"`,
		`StrCpy $ConfigName "` + config.PropertiesName + `"`,
		`CopyFiles /SILENT "$ConfigFile" "$ProvDir\$ConfigName"`,
		`"QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the script lacks %s", want)
		}
	}

	install, uninstall, ok := strings.Cut(s, `Section "Uninstall"`)
	if !ok {
		t.Fatal("no uninstall section")
	}
	outPath := regexp.MustCompile(`(?m)^\s*SetOutPath "([^"]+)"`)
	file := regexp.MustCompile(`(?m)^\s*File "/oname=([^"]+)"`)
	var installed []string
	dir := ""
	for _, line := range strings.Split(install, "\n") {
		if m := outPath.FindStringSubmatch(line); m != nil {
			dir = m[1]
		}
		if m := file.FindStringSubmatch(line); m != nil {
			installed = append(installed, dir+`\`+m[1])
		}
	}
	installed = append(installed, `$INSTDIR\uninstall.exe`, `$SMPROGRAMS\${APPNAME}.lnk`)
	if !slices.Contains(installed, `$INSTDIR\tandem.exe`) || len(installed) < 6 {
		t.Errorf("installed files %v", installed)
	}
	for _, f := range installed {
		if !strings.Contains(uninstall, `Delete "`+f+`"`) {
			t.Errorf("the uninstaller leaves %s", f)
		}
	}
	// The provisioning is the admin's: the uninstaller keeps it.
	if strings.Contains(uninstall, "$ProvDir") || strings.Contains(uninstall, "ProgramData") {
		t.Error("the uninstaller touches the provisioning files")
	}
}

// TestNSISCompiles builds the installer from the script with a stand-in
// for tandem.exe (the real one takes minutes to cross-compile: make package
// builds it), signed with a throw-away certificate as make package signs,
// and lists what it would install.
func TestNSISCompiles(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	need(t, "makensis", "nsis")
	need(t, "7z", "p7zip-full")
	need(t, "osslsigncode", "osslsigncode")
	need(t, "openssl", "openssl")
	dir := t.TempDir()
	exe := filepath.Join(dir, "tandem.exe")
	if err := os.WriteFile(exe, []byte("stand-in for tandem.exe"), 0o644); err != nil {
		t.Fatal(err)
	}
	examples := filepath.Join(dir, "examples")
	if err := os.MkdirAll(examples, 0o755); err != nil {
		t.Fatal(err)
	}
	for src, dst := range map[string]string{"../config/testdata/tandem.example.toml": "tandem.toml", "examples/bc.properties": "bc.properties"} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(examples, dst), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	run(t, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
		"-subj", "/CN=Tandem test signer", "-addext", "extendedKeyUsage=codeSigning")
	setup := filepath.Join(dir, "setup.exe")
	cmd := exec.Command("makensis", "-V2", "-NOCD", "-DVERSION="+testVersion, "-DVIVERSION=1.2.3.0", "-DEXE="+exe,
		"-DICON=/usr/share/nsis/Contrib/Graphics/Icons/modern-install.ico", "-DEXAMPLES="+examples,
		"-DGUIDE="+filepath.Join(root, "docs/admin-guide.md"), "-DOUTFILE="+setup,
		`-DSIGNFILE=bash "`+filepath.Join(root, "scripts/package.sh")+`" --sign-file`, "tandem.nsi")
	cmd.Env = append(os.Environ(), "TANDEM_SIGN_CERT="+cert, "TANDEM_SIGN_KEY="+key)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("makensis: %v\n%s", err, out)
	}
	cmd = exec.Command("bash", filepath.Join(root, "scripts/package.sh"), "--sign-file", setup)
	cmd.Env = append(os.Environ(), "TANDEM_SIGN_CERT="+cert, "TANDEM_SIGN_KEY="+key)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("--sign-file: %v\n%s", err, out)
	}
	run(t, "osslsigncode", "verify", "-CAfile", cert, "-in", setup)
	checkInstaller(t, setup, false)
}

// checkInstaller lists an NSIS installer: it holds the program, the
// examples, the guide and an uninstaller. realExe: the program is the real
// one, to be checked too and returned.
func checkInstaller(t *testing.T, setup string, realExe bool) []byte {
	t.Helper()
	out := run(t, "7z", "l", "-slt", setup)
	var paths []string
	for _, line := range strings.Split(out, "\n") {
		if p, ok := strings.CutPrefix(line, "Path = "); ok {
			paths = append(paths, strings.ReplaceAll(strings.TrimSpace(p), `\`, "/"))
		}
	}
	for _, want := range []string{"tandem.exe", "examples/tandem.toml", "examples/bc.properties", "admin-guide.md", "uninstall.exe"} {
		if !slices.ContainsFunc(paths, func(p string) bool { return p == want || strings.HasSuffix(p, "/"+want) }) {
			t.Errorf("%s lacks %s: %v", setup, want, paths)
		}
	}
	if !realExe {
		return nil
	}
	x := t.TempDir()
	run(t, "7z", "e", "-o"+x, setup, "tandem.exe")
	checkPE(t, filepath.Join(x, "tandem.exe"))
	return readFile(t, filepath.Join(x, "tandem.exe"))
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// checkPE checks a Windows program: a 64-bit GUI executable.
func checkPE(t *testing.T, file string) {
	t.Helper()
	f, err := pe.Open(file)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	defer f.Close()
	oh, ok := f.OptionalHeader.(*pe.OptionalHeader64)
	if f.Machine != pe.IMAGE_FILE_MACHINE_AMD64 || !ok || oh.Subsystem != pe.IMAGE_SUBSYSTEM_WINDOWS_GUI {
		t.Errorf("%s: machine %#x, %T; want an amd64 GUI program", file, f.Machine, f.OptionalHeader)
	}
	if f.Section(".rsrc") == nil {
		t.Errorf("%s: no resources (icon, version)", file)
	}
}

// TestWindowsDist checks the Windows files that `make package` left in
// dist/, when it did.
func TestWindowsDist(t *testing.T) {
	dist := filepath.Join(root, "dist")
	setups, _ := filepath.Glob(filepath.Join(dist, "tandem_*_windows_amd64_setup.exe"))
	if len(setups) == 0 {
		t.Skip("no Windows installer in dist/: make package builds one")
	}
	need(t, "7z", "p7zip-full")
	names := checkSums(t, dist)
	for _, s := range setups {
		exe := strings.TrimSuffix(s, "_setup.exe") + ".exe"
		for _, f := range []string{s, exe} {
			if !slices.Contains(names, filepath.Base(f)) {
				t.Errorf("SHA256SUMS lacks %s", filepath.Base(f))
			}
		}
		checkPE(t, exe)
		checkResources(t, exe, strings.TrimSuffix(strings.TrimPrefix(filepath.Base(exe), "tandem_"), "_windows_amd64.exe"))
		if packed := checkInstaller(t, s, true); !bytes.Equal(packed, readFile(t, exe)) {
			t.Errorf("%s does not hold %s", filepath.Base(s), filepath.Base(exe))
		}
	}
}

// checkResources checks a Windows program's icon and version information
// (packaging/tandem.rc), as 7z shows them.
func checkResources(t *testing.T, exe, version string) {
	t.Helper()
	if list := run(t, "7z", "l", exe); !strings.Contains(list, ".rsrc/GROUP_ICON/1") {
		t.Errorf("%s has no icon:\n%s", exe, list)
	}
	// version.txt is UTF-16LE; its text is ASCII.
	info := strings.ReplaceAll(run(t, "7z", "x", "-so", exe, ".rsrc/version.txt"), "\x00", "")
	want := regexp.MustCompile(`VALUE "ProductVersion",\s*"` + regexp.QuoteMeta(version) + `"`)
	if !want.MatchString(info) || !strings.Contains(info, `"ProductName",`) {
		t.Errorf("%s: version information lacks ProductVersion %s:\n%s", exe, version, info)
	}
}
