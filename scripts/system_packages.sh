#!/usr/bin/env bash
# The system packages the tests use besides Python: a real Redis (shared sessions) and Chromium with a CJK font
# (the chat page in a real browser, Korean included). Run once, as root; CI runs it before the set-up.
set -euo pipefail
need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v chromium >/dev/null || need+=(chromium)
fc-list 2>/dev/null | grep -qi "noto sans cjk" || need+=(fonts-noto-cjk)
if [ ${#need[@]} -eq 0 ]; then
    echo "system packages: all present"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "system packages missing: ${need[*]}; run this script as root (apt-get install ${need[*]})" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null; then
    echo "system packages missing: ${need[*]}; no apt-get here: install them with this system's package manager" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! apt-get update -qq || ! apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; then
    echo "system packages missing: ${need[*]}; apt-get could not install them (see its message above)" >&2
    exit 1
fi
echo "system packages installed: ${need[*]}"
