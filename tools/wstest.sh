#!/bin/sh
# The Autobahn testsuite's wstest, which runs on Python 2.7 only: pyenv's 2.7 on these machines.
#   tools/wstest.sh --install   install autobahntestsuite there from PyPI if wstest is missing
#   tools/wstest.sh --path      print wstest's path (exit 1 if there is none)
#   tools/wstest.sh ARGS...     run wstest ARGS...
set -u
find_python2() {
    for py in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/2.7*/bin/python /root/.pyenv/versions/2.7*/bin/python; do
        [ -x "$py" ] && { echo "$py"; return 0; }
    done
    command -v python2.7 2>/dev/null && return 0
    return 1
}
py=$(find_python2) || { echo "no Python 2.7 found (pyenv install 2.7.18): autobahntestsuite needs it" >&2; exit 1; }
wstest="$(dirname "$py")/wstest"
case "${1:-}" in
--install)
    [ -x "$wstest" ] && exit 0
    echo "installing autobahntestsuite into $py"
    "$py" -m pip install -q --disable-pip-version-check autobahntestsuite >/dev/null 2>&1 || {
        echo "pip install autobahntestsuite failed for $py" >&2; exit 1; }
    [ -x "$wstest" ] || { echo "autobahntestsuite installed no wstest beside $py" >&2; exit 1; } ;;
--path)
    [ -x "$wstest" ] && echo "$wstest" || exit 1 ;;
*)
    exec "$wstest" "$@" ;;
esac
