#!/bin/sh
# Installs the real peers the test suite talks to, from Debian's packages:
#   mongrel2-core (m2sh, mongrel2)  the bridge's Mongrel2 compatibility tests
#   chromium                        headless browser tests of the bridge pages
#   wrk                             HTTP load for the benchmarks and the reliability suite
#   python3-zmq                     Debian's libzmq with OpenPGM: the multicast (epgm/pgm) peer
#   nftables, iproute2              network namespaces and loss injection for multicast tests
#   libjeromq-java, default-jdk-headless   JeroMQ 0.3.6 (a ZMTP/2.0 peer) and javac for its test peer
#   haproxy                         the TCP load balancer in front of several bridge hosts
#   autobahntestsuite (wstest)     the Autobahn WebSocket fuzzingclient, from PyPI into pyenv's
#                                  Python 2.7 (it runs on Python 2 only): see tools/wstest.sh
#   zeromq (zeromq.js, libzmq 4.3.5 with the draft API and ws://), jszmq (JavaScript ZWS 2.0):
#                                  npm packages pinned by tests/js/package-lock.json, installed
#                                  into tests/js/node_modules with `npm ci`
# (pyzmq for the other interop tests comes from PyPI through the test extra.)
# Idempotent; quick when all is present.
set -u
need=""
add() { case " $need " in *" $1 "*) ;; *) need="$need $1";; esac; }
command -v mongrel2 >/dev/null 2>&1 || add mongrel2-core
command -v m2sh >/dev/null 2>&1 || add mongrel2-core
command -v chromium >/dev/null 2>&1 || add chromium
command -v wrk >/dev/null 2>&1 || add wrk
/usr/bin/python3 -c "import zmq" >/dev/null 2>&1 || add python3-zmq
command -v nft >/dev/null 2>&1 || add nftables
command -v ip >/dev/null 2>&1 || add iproute2
[ -f /usr/share/java/jeromq.jar ] || add libjeromq-java
command -v javac >/dev/null 2>&1 || add default-jdk-headless
command -v haproxy >/dev/null 2>&1 || command -v /usr/sbin/haproxy >/dev/null 2>&1 || add haproxy
if ! sh "$(dirname "$0")/wstest.sh" --install; then
    [ "$(id -u)" = 0 ] && exit 1
    echo "warning: Autobahn's wstest is missing; the test that needs it will fail" >&2
fi
js="$(dirname "$0")/../tests/js"
if command -v npm >/dev/null 2>&1; then
    if [ ! -f "$js/node_modules/.package-lock.json" ] || [ "$js/package-lock.json" -nt "$js/node_modules/.package-lock.json" ]; then
        (cd "$js" && npm ci --no-audit --no-fund --loglevel=error) || echo "warning: npm ci in tests/js failed; the zeromq.js/jszmq tests will fail" >&2
    fi
else
    echo "warning: node/npm missing: the zeromq.js and jszmq tests will fail" >&2
fi
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
    echo "         the tests that need them will fail" >&2
fi
