#!/usr/bin/env bash
# Installs, idempotently, every Debian package and Go tool that the build and
# the tests need. Safe to run again: it only installs what is missing.
set -euo pipefail

# Debian packages: the build (cgo, Fyne's GL/X11 headers), the real peers the
# interop tests start on loopback, and the tools of the real-window tests.
DEB_PACKAGES=(
  ca-certificates git make gcc pkg-config
  libopus-dev libopusfile-dev
  kamailio
  sip-tester baresip
  libgl1-mesa-dev libx11-dev libxcursor-dev libxrandr-dev libxinerama-dev
  libxi-dev libxxf86vm-dev libwayland-dev libxkbcommon-dev
  xvfb xauth xdotool imagemagick libgl1-mesa-dri
  # packaging/packaging_test.go: the desktop entry, the installer script
  # (compiled, signed, listed), the tarball
  desktop-file-utils nsis osslsigncode openssl p7zip-full xz-utils
)

# Go tools, pinned.
GO_TOOLS=(
  honnef.co/go/tools/cmd/staticcheck@v0.8.2
  # the packages (scripts/package.sh, which pins the same versions)
  fyne.io/tools/cmd/fyne@v1.7.4
  github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
)

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing Debian packages: ${missing[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

gobin="$(go env GOPATH)/bin"
for t in "${GO_TOOLS[@]}"; do
  name="${t%@*}"; name="${name##*/}"
  if [ ! -x "$gobin/$name" ]; then
    echo "setup: installing $t"
    GOFLAGS= go install "$t"
  fi
done
