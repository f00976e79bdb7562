#!/bin/sh
# Run Mongrel2 with examples/mongrel2/mongrel2.conf and the hello handler behind it.
# Mongrel2 chroots into its working directory and needs run/, logs/ and tmp/ there, so
# everything happens in a fresh temporary directory. Ctrl-C stops both.
set -e
here=$(cd "$(dirname "$0")" && pwd)
python=$(realpath -s "$(command -v "${PYTHON:-python3}")")
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
mkdir -p "$work/run" "$work/logs" "$work/tmp"
cp "$here/mongrel2.conf" "$work/"
cd "$work"
LOGNAME=${LOGNAME:-mongrel2} m2sh load -config mongrel2.conf -db config.sqlite >/dev/null
# mongrel2 daemonizes itself; its pid is in run/mongrel2.pid (inside the chroot).
mongrel2 config.sqlite f400bf85-4538-4f7a-8908-67e313d515c2 >"$work/logs/stdout.log" 2>&1
PYTHONPATH="$repo" "$python" "$repo/examples/bridge/hello_m2.py" &
handler=$!
trap 'kill $handler $(cat "$work/run/mongrel2.pid" 2>/dev/null) 2>/dev/null; rm -rf "$work"' INT TERM EXIT
echo "Mongrel2 on http://127.0.0.1:6767/hello/ (logs in $work/logs); Ctrl-C to stop"
wait $handler
