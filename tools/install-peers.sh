#!/bin/sh
# Installs the real peers the test suite talks to: Debian's mongrel2-core and chromium.
# (pyzmq comes from PyPI through the test extra.) Idempotent; quick when all is present.
set -u
need=""
command -v mongrel2 >/dev/null 2>&1 || need="$need mongrel2-core"
command -v m2sh >/dev/null 2>&1 || case "$need" in *mongrel2-core*) ;; *) need="$need mongrel2-core";; esac
command -v chromium >/dev/null 2>&1 || need="$need chromium"
command -v wrk >/dev/null 2>&1 || need="$need wrk"
[ -z "$need" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian packages:$need"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null 2>&1 || true
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $need >/dev/null || {
        echo "apt-get install$need failed" >&2; exit 1; }
else
    echo "warning: missing real peers:$need (run as root with apt to install them);" >&2
    echo "         tests that need them fail when CI=true" >&2
fi
