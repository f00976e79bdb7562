"""tools/check-dist.py finds what the package index would refuse and twine check lets through
(the full build and check runs in make test; these feed it metadata directly)."""
import email.message
import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
spec = importlib.util.spec_from_file_location("check_dist", os.path.join(ROOT, "tools", "check-dist.py"))
check_dist = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_dist)

WHEEL = ["gzmq/py.typed", "bridge/py.typed", "bridge/static/bridge.js", "gzmq-0.1.0.dist-info/licenses/LICENSE"]
SDIST = {"LICENSE", "README.md", "gzmq/py.typed", "bridge/py.typed", "tests/conftest.py", "tests/sockets",
         "examples/intro/echo_server.py", "Makefile", "docs/conf.py"}


def metadata(classifiers, requires=">=3.9", urls=("Source, https://example.invalid/gzmq",)):
    meta = email.message.Message()
    for c in classifiers:
        meta["Classifier"] = c
    meta["Requires-Python"] = requires
    for u in urls:
        meta["Project-URL"] = u
    meta["License"] = "MIT"
    meta["License-File"] = "LICENSE"
    return meta


GOOD = ["Development Status :: 3 - Alpha", "Programming Language :: Python :: 3.9",
        "Programming Language :: Python :: 3.13"]


def test_good_metadata_passes():
    assert check_dist.problems_in(metadata(GOOD), WHEEL, SDIST) == []


def test_invalid_classifier_is_named():
    # The one the project shipped: not in the index's list.
    problems = check_dist.problems_in(metadata(GOOD + ["Framework :: gevent"]), WHEEL, SDIST)
    assert problems == ["unknown trove classifier: 'Framework :: gevent'"]


@pytest.mark.parametrize("meta, expected", [
    (metadata(GOOD[1:]), "no 'Development Status' classifier"),
    (metadata(GOOD, urls=()), "no project URLs"),
    (metadata(GOOD, requires=">=3.10"), "do not start at Requires-Python >=3.10"),
])
def test_missing_metadata_is_reported(meta, expected):
    problems = check_dist.problems_in(meta, WHEEL, SDIST)
    assert len(problems) == 1 and expected in problems[0], problems


def test_missing_files_are_reported():
    problems = check_dist.problems_in(metadata(GOOD), WHEEL[1:], SDIST - {"tests/conftest.py", "LICENSE"})
    assert sorted(problems) == ["the sdist lacks LICENSE", "the sdist lacks tests/conftest.py",
                                "the wheel lacks gzmq/py.typed"]
