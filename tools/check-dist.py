"""Build the sdist and the wheel and check them as the package index would (make test).

    python tools/check-dist.py [OUTDIR]

Runs ``python -m build`` into OUTDIR (a temporary directory by default), then ``twine check
--strict``, then what twine does not check: every classifier is a known one (the index refuses an
upload with an unknown classifier; the ``trove-classifiers`` package is the index's own list), the
metadata names a license file, project URLs, a Development Status and each Python version it
claims, and both archives hold LICENSE and the py.typed markers, the sdist the tests too.
Prints one line per finding and exits 1 if there is any.
"""
import email.parser
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def metadata_of(wheel):
    with zipfile.ZipFile(wheel) as z:
        name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        return email.parser.Parser().parsestr(z.read(name).decode()), z.namelist()


def check(outdir):
    subprocess.run([sys.executable, "-m", "build", "--outdir", outdir, ROOT], check=True,
                   stdout=subprocess.DEVNULL)
    wheels = [os.path.join(outdir, f) for f in os.listdir(outdir) if f.endswith(".whl")]
    sdists = [os.path.join(outdir, f) for f in os.listdir(outdir) if f.endswith(".tar.gz")]
    if len(wheels) != 1 or len(sdists) != 1:
        return [f"expected one wheel and one sdist in {outdir}, found {sorted(os.listdir(outdir))}"]
    subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *wheels, *sdists], check=True)

    meta, wheel_files = metadata_of(wheels[0])
    with tarfile.open(sdists[0]) as t:
        sdist_files = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    print(f"checked {os.path.basename(wheels[0])} and {os.path.basename(sdists[0])}: "
          f"{len(meta.get_all('Classifier') or [])} classifiers, "
          f"{len(meta.get_all('Project-URL') or [])} project URLs")
    return problems_in(meta, wheel_files, sdist_files)


def problems_in(meta, wheel_files, sdist_files):
    """What the index or a user would find wrong with this metadata and these two file lists."""
    from trove_classifiers import classifiers as known

    problems = []
    classifiers = meta.get_all("Classifier") or []
    problems += [f"unknown trove classifier: {c!r}" for c in classifiers if c not in known]
    if not any(c.startswith("Development Status :: ") for c in classifiers):
        problems.append("no 'Development Status' classifier")
    low = re.fullmatch(r">=\s*3\.(\d+)", meta.get("Requires-Python", ""))
    if not low:
        problems.append(f"Requires-Python is {meta.get('Requires-Python')!r}, expected '>=3.N'")
    else:
        claimed = {int(m.group(1)) for c in classifiers
                   if (m := re.fullmatch(r"Programming Language :: Python :: 3\.(\d+)", c))}
        if not claimed or min(claimed) != int(low.group(1)):
            problems.append(f"Python classifiers {sorted(claimed)} do not start at Requires-Python {low.group(0)}")
    if not meta.get_all("Project-URL"):
        problems.append("no project URLs")
    if meta.get("License") != "MIT" or "LICENSE" not in (meta.get_all("License-File") or []):
        problems.append(f"license metadata: License={meta.get('License')!r}, License-File={meta.get_all('License-File')}")
    for need in ("gzmq/py.typed", "bridge/py.typed", "bridge/static/bridge.js"):
        if need not in wheel_files:
            problems.append(f"the wheel lacks {need}")
    if not any(n.endswith(".dist-info/licenses/LICENSE") for n in wheel_files):
        problems.append("the wheel lacks LICENSE")
    if any(n.startswith("tests/") for n in wheel_files):
        problems.append("the wheel installs a top-level 'tests' package")
    for need in ("LICENSE", "README.md", "gzmq/py.typed", "bridge/py.typed", "tests/conftest.py",
                 "tests/sockets", "examples/intro/echo_server.py", "Makefile", "docs/conf.py"):
        if need not in sdist_files:
            problems.append(f"the sdist lacks {need}")
    return problems


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv:
        os.makedirs(argv[0], exist_ok=True)
        problems = check(argv[0])
    else:
        with tempfile.TemporaryDirectory() as outdir:
            problems = check(outdir)
    for p in problems:
        print(f"check-dist: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
