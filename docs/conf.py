"""Sphinx configuration for the gzmq and bridge documentation (make docs; warnings are errors).

Pages are Markdown (MyST). The API reference is generated from the docstrings by autodoc, so
the package must be importable: make setup installs it, with the docs extra.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from gzmq.version import __version__  # noqa: E402

project = "gzmq and bridge"
author = "the gzmq and bridge authors"
copyright = "2026, the gzmq and bridge authors"
release = version = __version__

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.viewcode"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
# The source directory is the repository (make docs: sphinx-build -c docs . docs/_build/html), so
# the README, bridge/README.md and the results are pages as they are and their links between
# each other resolve; only these files are read.
root_doc = "docs/index"
include_patterns = ["docs/**", "README.md", "bridge/README.md", "benchmarks/README.md",
                    "benchmarks/results/full.md", "benchmarks/results/issue25-before-after.md",
                    "benchmarks/results/*.png", "reliability/README.md",
                    "reliability/results/*.png", "examples/bigpipe/README.md", "examples/jsondb/README.md"]
exclude_patterns = ["docs/_build"]
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_typehints_format = "fully-qualified"
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
# The pyzmq surface takes pyzmq's names; the signatures say gzmq's own types.
nitpicky = False

html_theme = "furo"
html_title = f"gzmq {release}"
