#!/usr/bin/env bash
# Install everything zarr-browser needs to run and to test, into <repo>/.venv.
#
#   bash scripts/bootstrap.sh          (from any directory; safe to run again)
#
# 1. Debian packages (Xvfb, Mesa GL, the X/xcb libraries Qt needs, netcdf-bin, Python's venv)
#    are installed when missing - only as root and only where apt-get exists; otherwise the
#    missing ones are listed and we carry on.
# 2. A virtual environment .venv with Python >= 3.11.
# 3. `pip install -e '.[test]'`, skipped when .venv/.installed-<sha256 of pyproject.toml>
#    exists, so a second run takes a second.
#
# Environment: ZB_PYTHON=/path/to/python picks the interpreter for a new .venv.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# -- 1. Debian packages --------------------------------------------------------------------
# Xvfb + xauth for xvfb-run; Mesa (llvmpipe) for OpenGL under Xvfb; what Qt's xcb platform
# plugin links against; a font so Qt can draw text; ncdump/ncgen for the NCZarr tests; the
# zstd command for chunks written by a stream compressor.
DEB_PACKAGES=(
  xvfb xauth netcdf-bin zstd
  libgl1 libgl1-mesa-dri libegl1 libglib2.0-0
  libx11-xcb1 libxkbcommon-x11-0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
  libxcb-render-util0 libxcb-xinerama0 libxcb-xfixes0 libxcb-shape0 libxcb-cursor0
  libxcb-glx0 libxcb-shm0 libxcb-sync1 libxcb-util1 libxcb-xkb1
  libdbus-1-3 libfontconfig1 fonts-dejavu-core
)

deb_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# python >= 3.11 on PATH (python3.11 first), or nothing
find_python() {
  local candidate
  if [[ -n "${ZB_PYTHON:-}" ]]; then
    echo "$ZB_PYTHON"
    return
  fi
  for candidate in python3.11 python3 python3.12 python3.13; do
    if command -v "$candidate" >/dev/null 2>&1 \
      && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      command -v "$candidate"
      return
    fi
  done
}

venv_ok() {
  [[ -x "$VENV/bin/python" ]] \
    && "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
    && "$VENV/bin/python" -m pip --version >/dev/null 2>&1
}

if command -v dpkg-query >/dev/null 2>&1; then
  missing=()
  for pkg in "${DEB_PACKAGES[@]}"; do
    deb_installed "$pkg" || missing+=("$pkg")
  done
  if ! venv_ok; then
    python="$(find_python)"
    if [[ -z "$python" ]]; then
      missing+=(python3 python3-venv)
    elif ! "$python" -c 'import ensurepip, venv' >/dev/null 2>&1; then
      # Debian splits venv/ensurepip out of the interpreter package
      version="$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
      missing+=("python$version-venv")
    fi
  fi
  if ((${#missing[@]})); then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
      say "installing Debian packages: ${missing[*]}"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >/dev/null
      apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
      say "missing Debian packages (run this script as root to install them): ${missing[*]}"
    fi
  else
    say "Debian packages: all present"
  fi
fi

# -- 2. the virtual environment ------------------------------------------------------------
if ! venv_ok; then
  python="$(find_python)"
  [[ -n "$python" ]] || die "no Python >= 3.11 found (install python3.11, or set ZB_PYTHON)"
  "$python" -c 'import ensurepip, venv' >/dev/null 2>&1 \
    || die "$python cannot create virtual environments (on Debian: apt-get install python3-venv)"
  say "creating $VENV with $("$python" --version 2>&1) ($python)"
  rm -rf "$VENV"
  "$python" -m venv "$VENV"
fi

# -- 3. Python packages --------------------------------------------------------------------
hash="$(sha256sum "$ROOT/pyproject.toml" | cut -c1-64)"
stamp="$VENV/.installed-$hash"
if [[ -e "$stamp" ]]; then
  say "Python packages: up to date ($(basename "$stamp" | cut -c1-24)…)"
else
  say "installing Python packages into $VENV (pip install -e '.[test]'; a few minutes the first time)"
  export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
  "$VENV/bin/python" -m pip install -q --progress-bar off --upgrade pip
  (cd "$ROOT" && "$VENV/bin/python" -m pip install -q --progress-bar off -e '.[test]')
  # a .venv made before the move to Qt 6 still has PyQt5, which qtpy would keep choosing
  if "$VENV/bin/python" -m pip show -q PyQt5 >/dev/null 2>&1; then
    say "removing PyQt5 (the GUI runs on PyQt6 now)"
    "$VENV/bin/python" -m pip uninstall -q -y PyQt5 PyQt5-Qt5 PyQt5-sip
  fi
  rm -f "$VENV"/.installed-*
  touch "$stamp"
  say "Python packages: installed"
fi
