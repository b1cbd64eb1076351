#!/usr/bin/env bash
# `make browser-setup` (and so `make pytest`, `make test`, `make browser`): Debian's chromium for the
# browser tests, installed when missing, as .ci/run used to do alone. Idempotent: nothing happens when
# chromium (or $CHROMIUM_PATH) is there. Needs root or password-less sudo and apt; where either is
# missing it says so in one line and exits 0: the browser tests then skip, and the last lines of the
# test run name the tier with the command that runs it.
set -uo pipefail
say() { printf 'browser-setup: %s\n' "$*"; }
if [ -n "${CHROMIUM_PATH:-}" ] || command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    say "chromium is missing and neither root nor password-less sudo is here: the browser tests will skip (install it: apt-get install -y chromium, then make browser)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    say "chromium is missing and there is no apt-get: the browser tests will skip (install chromium, or set CHROMIUM_PATH, then make browser)"
    exit 0
fi
start=$SECONDS
say "installing Debian's chromium (apt-get) ..."
if "${as_root[@]}" apt-get install -y -q chromium >/dev/null 2>&1 \
    || { "${as_root[@]}" apt-get update -q >/dev/null 2>&1 && "${as_root[@]}" apt-get install -y -q chromium >/dev/null 2>&1; }; then
    say "chromium installed in $((SECONDS - start)) s"
else
    say "apt-get could not install chromium (no network or no package?): the browser tests will skip (apt-get install -y chromium, then make browser)"
fi
exit 0
