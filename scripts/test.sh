#!/usr/bin/env bash
# Install what is missing, then run the whole test suite (under Xvfb).
#
#   bash scripts/test.sh [PYTEST ARGS...]    (paths are relative to the repository root)
#
# The exit status is pytest's, except that "no tests collected" (5) is a failure too.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"

# Qt complains (and some versions refuse to start) without a private runtime directory.
if [[ -z "${XDG_RUNTIME_DIR:-}" || ! -d "${XDG_RUNTIME_DIR}" ]]; then
  XDG_RUNTIME_DIR="$(mktemp -d "${TMPDIR:-/tmp}/zb-runtime.XXXXXX")"
  chmod 700 "$XDG_RUNTIME_DIR"
  export XDG_RUNTIME_DIR
  trap 'rm -rf "$XDG_RUNTIME_DIR"' EXIT
fi

cmd=("$ROOT/.venv/bin/python" -m pytest)
if command -v xvfb-run >/dev/null 2>&1; then
  # xvfb-run owns the display (children of tests inherit it); pytest-xvfb stays loaded, for its
  # markers, but must not start a second server - unless the caller unloaded it already.
  case " $* " in
    *"no:xvfb"*) ;;
    *) cmd+=(--no-xvfb) ;;
  esac
  cmd=(xvfb-run -a -s "-screen 0 1280x1024x24" "${cmd[@]}")
else
  printf '==> xvfb-run not found: GUI tests need a display (run scripts/bootstrap.sh as root)\n' >&2
fi

printf '==> %s\n' "pytest $*" >&2
status=0
"${cmd[@]}" "$@" || status=$?
if [[ "$status" == 5 ]]; then
  printf 'error: pytest collected no tests\n' >&2
  exit 1
fi
exit "$status"
