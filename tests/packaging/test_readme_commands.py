"""The commands the READMEs show refer to things that exist (a newcomer copies them as they are)."""
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
READMES = ["README.md", "bridge/README.md", "examples/bigpipe/README.md", "examples/jsondb/README.md"]


def text(name):
    with open(os.path.join(ROOT, name), encoding="utf-8") as f:
        return f.read()


@pytest.mark.parametrize("readme", READMES)
def test_static_directories_and_example_scripts_exist(readme):
    body = text(readme)
    for directory in re.findall(r"--static '[^=']*=([^']+)'", body) + re.findall(r"static:([^\s'\"`,)]+)", body):
        if directory.startswith("/srv/") or directory.startswith("DIR"):
            continue                                        # the config file's illustration
        assert os.path.isdir(os.path.join(ROOT, directory)), f"{readme}: --static {directory} does not exist"
    for script in re.findall(r"python (examples/\S+\.py)", body):
        assert os.path.isfile(os.path.join(ROOT, script)), f"{readme}: {script} does not exist"


def test_readme_says_to_use_the_virtualenv():
    body = text("README.md")
    assert ".venv/bin/activate" in body and ".venv/bin/python" in body
