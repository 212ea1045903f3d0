#!/usr/bin/env bash
# Builds Tandem's installable packages (make package; docs/admin-guide.md):
#
#   tandem_VERSION_linux_amd64.tar.xz     fyne package's tarball (make install inside)
#   tandem_DEBVERSION_amd64.deb           the Debian package (nfpm)
#   tandem_VERSION_windows_amd64.exe      the desktop, cross-compiled with mingw-w64
#   tandem_VERSION_windows_amd64_setup.exe  its NSIS installer (/S, /CONFIG=)
#   SHA256SUMS                            of every file above
#
# Usage: scripts/package.sh [--out DIR] [linux] [windows]   (default: dist/, both)
#        scripts/package.sh --version      the version a build gets, and exit
#        scripts/package.sh --tools [linux] [windows]  only install what they need
#        scripts/package.sh --sign-file F  sign the Windows file F in place, and exit
#
# Environment:
#   TANDEM_VERSION     the version (default: `git describe --tags`, without the
#                      leading v; with no tag, the Version in FyneApp.toml)
#   TANDEM_SIGN_CERT, TANDEM_SIGN_KEY   PEM certificate (chain) and key: the
#                      Windows files are signed with osslsigncode when both are
#                      set, and left unsigned otherwise
#   TANDEM_SIGN_PASS   the key's password, if it has one
#
# It installs what it needs, idempotently: the pinned fyne and nfpm commands,
# and for Windows the Debian packages gcc-mingw-w64-x86-64, nsis, osslsigncode,
# imagemagick, and p7zip-full (which lists an installer's contents). The Linux
# binary is built with the same flags as `go build` (plus -ldflags), so that it
# reuses the build cache of the tests.
set -euo pipefail

FYNE_TOOL=fyne.io/tools/cmd/fyne@v1.7.4
NFPM_TOOL=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
APP_ID=io.github.tandem_softphone.tandem
VERSION_PKG=github.com/tandem-softphone/tandem/internal/version

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

die() { echo "package: $*" >&2; exit 1; }

# version is the release version: the TANDEM_VERSION override, the latest
# vX.Y.Z tag as git describes it (1.2.0, 1.2.0-3-g4f2a9c1, ...-dirty), or
# FyneApp.toml's Version where git knows no tag.
version() {
  if [ -n "${TANDEM_VERSION:-}" ]; then
    echo "${TANDEM_VERSION#v}"
  elif v="$(git describe --tags --dirty --match 'v[0-9]*' 2>/dev/null)"; then
    echo "${v#v}"
  else
    v="$(sed -n 's/^[[:space:]]*Version[[:space:]]*=[[:space:]]*"\(.*\)".*/\1/p' FyneApp.toml | head -n 1)"
    [ -n "$v" ] || die "no version: no git tag and no Version in FyneApp.toml"
    echo "$v"
  fi
}

# commit is the short commit id, with -dirty for a changed work tree.
commit() {
  git describe --always --dirty --abbrev=7 --exclude '*' 2>/dev/null || echo unknown
}

sign_file() {
  local f="$1"
  osslsigncode sign -certs "$TANDEM_SIGN_CERT" -key "$TANDEM_SIGN_KEY" ${TANDEM_SIGN_PASS:+-pass "$TANDEM_SIGN_PASS"} \
    -h sha256 -n Tandem -i https://github.com/tandem-softphone/tandem -in "$f" -out "$f.signed" >/dev/null
  mv -f "$f.signed" "$f"
}

signing() { [ -n "${TANDEM_SIGN_CERT:-}" ] && [ -n "${TANDEM_SIGN_KEY:-}" ]; }

go_tool() {
  local name="${1%@*}"
  name="${name##*/}"
  local bin
  bin="$(go env GOPATH)/bin/$name"
  if [ ! -x "$bin" ]; then
    echo "package: installing $1" >&2
    GOFLAGS= go install "$1" >&2
  fi
  echo "$bin"
}

deb_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "package: installing Debian packages: ${missing[*]}" >&2
  $sudo apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
}

tools_linux() {
  go_tool "$FYNE_TOOL" >/dev/null
  go_tool "$NFPM_TOOL" >/dev/null
}

tools_windows() {
  deb_packages gcc-mingw-w64-x86-64 nsis osslsigncode imagemagick p7zip-full
}

out="$root/dist"
targets=()
tools_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --version) version; exit 0 ;;
    --tools) tools_only=1 ;;
    --sign-file) [ $# -eq 2 ] || die "--sign-file FILE"; signing || die "TANDEM_SIGN_CERT and TANDEM_SIGN_KEY are not set"; sign_file "$2"; exit 0 ;;
    --out) [ $# -ge 2 ] || die "--out DIR"; out="$2"; shift ;;
    linux|windows) targets+=("$1") ;;
    *) die "unknown argument $1 (see the comment at the top of $0)" ;;
  esac
  shift
done
[ ${#targets[@]} -gt 0 ] || targets=(linux windows)
if [ "$tools_only" = 1 ]; then
  for t in "${targets[@]}"; do "tools_$t"; done
  exit 0
fi
VERSION="$(version)"
COMMIT="$(commit)"
# Debian orders 1.2.0~x before 1.2.0 and 1.2.0+x after it: a build past the
# tag (1.2.0-3-g4f2a9c1) becomes 1.2.0+3.g4f2a9c1.
DEB_VERSION="$VERSION"
case "$VERSION" in *-*) DEB_VERSION="${VERSION%%-*}+$(echo "${VERSION#*-}" | tr -- - .)" ;; esac
[[ "$DEB_VERSION" =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || die "version $VERSION does not make a Debian version"
# X.Y.Z as four numbers, for Windows' version resources.
IFS=. read -r vmaj vmin vpat _ <<<"${VERSION%%[-+]*}.0.0.0"
for n in "$vmaj" "$vmin" "$vpat"; do [[ "$n" =~ ^[0-9]+$ ]] || die "version $VERSION is not X.Y.Z"; done
LDFLAGS="-s -w -X $VERSION_PKG.Version=$VERSION -X $VERSION_PKG.Commit=$COMMIT"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
# SHA256SUMS lists what this run made: older packages go.
rm -f "$out"/tandem_* "$out/SHA256SUMS"
echo "package: version $VERSION, commit $COMMIT, into $out" >&2

stage="$(mktemp -d -t tandem-package-XXXXXX)"
syso="" # the Windows resources, in the main package while it builds
cleanup() { rm -rf "$stage"; [ -z "$syso" ] || rm -f "$syso"; }
trap cleanup EXIT

produced=()

package_linux() {
  local fyne nfpm
  fyne="$(go_tool "$FYNE_TOOL")"
  nfpm="$(go_tool "$NFPM_TOOL")"
  mkdir -p "$stage/linux/bin" "$stage/linux/src/assets" "$stage/linux/fyne" "$stage/linux/tar" "$stage/linux/deb"
  go build -ldflags "$LDFLAGS" -o "$stage/linux/bin/tandem" ./cmd/desktop
  "$stage/linux/bin/tandem" --version | grep -qF "Tandem $VERSION (commit $COMMIT," || die "the binary does not report version $VERSION"

  # fyne package rewrites FyneApp.toml (Build+1) and wants Go code beside
  # it: it gets copies, with the main package's source.
  cp FyneApp.toml "$stage/linux/src/"
  cp assets/icon.png "$stage/linux/src/assets/"
  cp cmd/desktop/*.go "$stage/linux/src/"
  # fyne package compresses with tar -J: xz on every core.
  (cd "$stage/linux/fyne" && XZ_OPT="${XZ_OPT:--T0}" "$fyne" package -os linux --executable "$stage/linux/bin/tandem" \
    --src "$stage/linux/src" --app-version "$VERSION" --app-build 1 >&2)
  local tarball="tandem_${VERSION}_linux_amd64.tar.xz"
  mv "$stage/linux/fyne/Tandem.tar.xz" "$out/$tarball"
  produced+=("$tarball")

  # The .deb takes the desktop entry and icon that fyne package made.
  tar -xJf "$out/$tarball" -C "$stage/linux/tar"
  local desktop icon
  desktop="$(find "$stage/linux/tar" -name "$APP_ID.desktop" -print -quit)"
  icon="$(find "$stage/linux/tar" -name "$APP_ID.png" -print -quit)"
  [ -n "$desktop" ] && [ -n "$icon" ] || die "the tarball lacks the desktop entry or the icon"
  cp "$desktop" "$icon" "$stage/linux/deb/"
  cp "$stage/linux/bin/tandem" "$stage/linux/deb/tandem"
  local deb="tandem_${DEB_VERSION}_amd64.deb"
  TANDEM_STAGE="$stage/linux/deb" TANDEM_DEB_VERSION="$DEB_VERSION" \
    "$nfpm" package --config packaging/nfpm.yaml --packager deb --target "$out/$deb" >&2
  produced+=("$deb")
}

package_windows() {
  tools_windows
  local w="$stage/windows"
  mkdir -p "$w/examples"
  convert assets/icon.png -define icon:auto-resize=256,64,48,32,16 "$w/tandem.ico"
  sed -e "s/@VERSION@/$VERSION/g" -e "s/@VERSION_NUMS@/$vmaj,$vmin,$vpat,0/g" packaging/tandem.rc >"$w/tandem.rc"
  syso="$root/cmd/desktop/zz_package_windows_amd64.syso"
  x86_64-w64-mingw32-windres -I "$w" -O coff -i "$w/tandem.rc" -o "$syso"
  # noopus: Debian has no Windows build of libopus; calls use G.711.
  CGO_ENABLED=1 GOOS=windows GOARCH=amd64 CC=x86_64-w64-mingw32-gcc \
    go build -tags noopus -ldflags "-H=windowsgui $LDFLAGS" -o "$w/tandem.exe" ./cmd/desktop
  rm -f "$syso"
  signing && sign_file "$w/tandem.exe"
  local exe="tandem_${VERSION}_windows_amd64.exe"
  cp "$w/tandem.exe" "$out/$exe"
  produced+=("$exe")

  cp config/testdata/tandem.example.toml "$w/examples/tandem.toml"
  cp packaging/examples/bc.properties "$w/examples/bc.properties"
  local setup="tandem_${VERSION}_windows_amd64_setup.exe"
  local sign_def=()
  signing && sign_def=("-DSIGNFILE=bash \"$root/scripts/package.sh\" --sign-file")
  makensis -V2 -NOCD -DVERSION="$VERSION" -DVIVERSION="$vmaj.$vmin.$vpat.0" -DEXE="$w/tandem.exe" \
    -DICON="$w/tandem.ico" -DEXAMPLES="$w/examples" -DGUIDE="$root/docs/admin-guide.md" \
    -DOUTFILE="$out/$setup" "${sign_def[@]}" packaging/tandem.nsi >&2
  signing && sign_file "$out/$setup"
  produced+=("$setup")
}

for t in "${targets[@]}"; do
  "package_$t"
done

(cd "$out" && sha256sum "${produced[@]}" >SHA256SUMS)
echo "package: done:" >&2
(cd "$out" && ls -l "${produced[@]}" SHA256SUMS) >&2
