"""Sphinx configuration: the API reference, the guides, the commands.

  python -m sphinx -W docs docs/_build/html

MyST reads the Markdown pages (README.md is the landing page, included by
index.md), autodoc with napoleon the Google-style docstrings, and
`_ext/cli_reference.py` writes the command-line reference from each
command's absl flags. Nothing is fetched: no intersphinx, no theme or
script from the network.
"""

import os
import sys

from pygments.lexers.special import TextLexer

# The local extension (Sphinx's documented way to load one from the tree).
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "_ext"))

project = "siamfc_jax"
author = "siamfc_jax authors"
copyright = "siamfc_jax authors"

extensions = [
  "myst_parser",
  "sphinx.ext.autodoc",
  "sphinx.ext.napoleon",
  "cli_reference",
  "docstring_blocks",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", "Thumbs.db", ".DS_Store"]

# Docstrings write `name` for code, as in Markdown: shown as written, a link
# where it names an object Sphinx knows (_ext/docstring_blocks.py).
default_role = "code-or-obj"

# Google-style docstrings (STYLE.md); no NumPy style in the tree.
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
# Attributes as fields of their class: the dataclass fields with defaults
# would otherwise be described twice (the section and autodoc's member).
napoleon_use_ivar = True
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
# Defaults as the source writes them (`tracking.SIAMFC_3S`), not their repr.
autodoc_preserve_defaults = True

# Headings get anchors, so a page may link `training.md#the-triplet-loss`.
myst_heading_anchors = 3

# Docstrings and help texts write flags as --name: no en dashes, no curly
# quotes.
smartquotes = False

html_theme = "alabaster"
# Wide enough for an 80-column code block beside the sidebar.
html_theme_options = {"page_width": "1160px", "sidebar_width": "240px"}
html_title = "siamfc_jax"
html_show_sourcelink = False
html_copy_source = False


def setup(app):
  # docs/architecture.md draws its layers as a Mermaid chart; without a
  # Mermaid extension (it would load its script from a CDN) it is shown as
  # the text it is, not an unknown-lexer warning.
  app.add_lexer("mermaid", TextLexer)
