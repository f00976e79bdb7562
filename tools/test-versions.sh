#!/bin/sh
# The fast suite (-m "not slow") of the core suites on each Python version gzmq claims besides the
# one `make test` runs the whole suite on (.venv's). Each version gets its own venv, .venv-3.N,
# made from pyenv's interpreter (or python3.N on PATH) and installed with binary wheels preferred
# (so 3.9 gets a gevent wheel instead of a source build, and atheris 2.x). Reinstalled when
# setup.cfg or pyproject.toml change.
#   GZMQ_TEST_PYTHONS="3.9 3.12"  sh tools/test-versions.sh    (default: 3.9 3.10 3.12 3.13)
# A version that cannot be found is a failure under CI=true, a warning otherwise.
set -u
cd "$(dirname "$0")/.."
VERSIONS="${GZMQ_TEST_PYTHONS:-3.9 3.10 3.12 3.13}"
SUITES="tests/zmtp tests/routing tests/sockets tests/interop tests/pubsub tests/lifecycle tests/compat tests/bridge tests/examples"
for d in tests/iothread; do [ -d "$d" ] && SUITES="$SUITES $d"; done

find_python() {
    root="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"
    best=""
    for dir in "$root"/versions/"$1".*; do
        case "${dir##*/}" in "$1".[0-9]|"$1".[0-9][0-9]) [ -x "$dir/bin/python$1" ] && best="$dir/bin/python$1";; esac
    done
    [ -n "$best" ] || best="$(command -v "python$1" 2>/dev/null)"
    [ -n "$best" ] && echo "$best"
}

status=0
report=""
for v in $VERSIONS; do
    py="$(find_python "$v")"
    if [ -z "$py" ]; then
        if [ -n "${CI:-}" ]; then
            report="$report  Python $v: FAILED (no interpreter: pyenv install $v)\n"; status=1
        else
            report="$report  Python $v: not found (pyenv install $v), not run\n"
        fi
        continue
    fi
    venv=".venv-$v"
    if [ ! -f "$venv/.installed" ] || [ setup.cfg -nt "$venv/.installed" ] || [ pyproject.toml -nt "$venv/.installed" ]; then
        echo "== $venv from $py"
        rm -rf "$venv"
        if ! { "$py" -m venv "$venv" && "$venv/bin/python" -m pip install -q --upgrade pip &&
               "$venv/bin/python" -m pip install -q --prefer-binary -e '.[test,curve]'; }; then
            report="$report  Python $v: FAILED (could not install)\n"; status=1
            continue
        fi
        touch "$venv/.installed"
    fi
    full="$("$venv/bin/python" -V 2>&1)"
    echo "== $full: fast suite"
    start=$(date +%s)
    # shellcheck disable=SC2086
    if "$venv/bin/python" -m pytest -q -p no:cacheprovider -m "not slow" $SUITES; then
        report="$report  $full: passed ($(( $(date +%s) - start )) s)\n"
    else
        report="$report  $full: FAILED ($(( $(date +%s) - start )) s)\n"; status=1
    fi
done
printf "fast suite on other versions:\n$report"
exit $status
