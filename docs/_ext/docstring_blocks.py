"""Reads our docstrings as they are written: indented blocks are code.

The docstrings are Google style (napoleon), but their prose follows
Markdown habits that reStructuredText reads otherwise:

- an indented block after a blank line (a usage example, a folder layout)
  is code; reStructuredText would make it a quotation and join its lines;
- a plural or suffix right after code, "`Sequence`s", "`stack`ed", is text;
  reStructuredText needs an escaped space before it to end the code;
- `text` in single backticks is code, shown as written: the role
  `code-or-obj` (conf.py's default role) links a dotted name to its object
  where Sphinx knows it, and shows anything else (`.mat`, `x, y, w, h`) as
  code, where Python's object role would drop a leading dot.

The docstring rules run before napoleon (a lower priority) and leave the
Google sections (Args, Returns, ...) to it.
"""

import re

from docutils import nodes
from sphinx.domains.python import PyXRefRole

# napoleon's Google section headers, at the docstring's own indentation.
_SECTION = re.compile(
    r"^(Args|Arguments|Attention|Attributes|Caution|Danger|Error|Example|"
    r"Examples|Hint|Important|Keyword Args|Keyword Arguments|Methods|Note|"
    r"Notes|Other Parameters|Parameters|Receive|Receives|Return|Returns|"
    r"Raise|Raises|References|See Also|Tip|Todo|Warning|Warnings|Warns|"
    r"Yield|Yields):\s*$")
_LIST_ITEM = re.compile(r"^\s*([-*+]|\d+[.)])\s")
# Code followed directly by a letter or digit: "`Sequence`s".
_CODE_THEN_WORD = re.compile(r"(`[^`\s][^`]*`)(?=\w)")
_DOTTED_NAME = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def _indent(line: str) -> int:
  return len(line) - len(line.lstrip())


def code_blocks(lines: list[str]) -> list[str]:
  """The lines, each indented prose block made code, "`x`s" made text."""
  out = []
  in_section = False
  previous = ""  # the last non-blank line
  i = 0
  while i < len(lines):
    line = lines[i]
    if line.strip() and _indent(line) == 0:
      in_section = bool(_SECTION.match(line))
    starts_block = (
        line.strip() and _indent(line) > 0 and not in_section and
        i > 0 and not lines[i - 1].strip() and previous and
        _indent(previous) == 0 and not previous.rstrip().endswith("::") and
        not _LIST_ITEM.match(previous) and not _LIST_ITEM.match(line) and
        not line.lstrip().startswith(("..", ">>>")))
    if not starts_block:
      out.append(_CODE_THEN_WORD.sub(r"\1\\ ", line))
      if line.strip():
        previous = line
      i += 1
      continue
    out += ["::", ""]
    while i < len(lines) and (not lines[i].strip() or _indent(lines[i])):
      out.append(lines[i])
      if lines[i].strip():
        previous = lines[i]
      i += 1
  return out


def process_docstring(app, what, name, obj, options, lines):
  del app, name, options  # the same rules for every docstring
  doc = getattr(obj, "__doc__", None)
  if what == "module" and isinstance(doc, str):
    # A module's docstring starts at column 0: read without the dedent that
    # would make an example that is all of its body (`siamfc_jax`'s) prose.
    lines[:] = doc.expandtabs(8).splitlines() + [""]
  lines[:] = code_blocks(lines)


class CodeOrObject(PyXRefRole):
  """`name`: Python's `py:obj` role for a dotted name, else code as is."""

  def run(self):
    if not _DOTTED_NAME.match(self.text):
      return [nodes.literal(self.rawtext, self.text)], []
    self.name = "py:obj"
    refs, messages = super().run()
    for ref in refs:
      ref["code_or_obj"] = True
    return refs, messages


def unresolved_as_code(app, env, node, contnode):
  """A `code-or-obj` name Sphinx does not know: plain code, not a dead link
  (which the theme would set apart, in bold)."""
  del app, env
  if not node.get("code_or_obj"):
    return None
  contnode["classes"] = [c for c in contnode["classes"]
                         if c not in ("xref", "py", "py-obj")]
  return contnode


def setup(app):
  app.add_role("code-or-obj", CodeOrObject())
  app.connect("missing-reference", unresolved_as_code)
  app.connect("autodoc-process-docstring", process_docstring, priority=400)
  return {"version": "1", "parallel_read_safe": True,
          "parallel_write_safe": True}
