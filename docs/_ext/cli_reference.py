"""The `cli-reference` directive: every command's absl flags, as tables.

  ```{cli-reference}
  ```

The commands are `siamfc_jax.cli.COMMANDS` (subcommand name -> module).
Each command module defines its flags at import time on absl's global
FLAGS, and several define flags of the same name, so each module is
imported in a subprocess of its own, which prints its flags as JSON (name,
type, default, help, defining module). Only flags defined in our packages
are listed, not absl's own (`--logtostderr`, ...) nor those of libraries.
A command whose module is missing is a warning; one that does not import
stops the build.
"""

import concurrent.futures
import importlib
import importlib.util
import json
import os
import subprocess
import sys

from docutils import nodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

# Flags defined in these packages are the commands'; others are absl's or
# a library's (orbax defines some of its own).
_OURS = ("siamfc_jax", "experiments", "benchmarks")
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

# Runs in the subprocess: argv[1] is the module; prints its flags as JSON.
_FLAGS_SCRIPT = r"""
import ast, importlib, json, sys
from absl import flags
name, ours = sys.argv[1], tuple(sys.argv[2].split(","))
module = importlib.import_module(name)
rows = []
for defined_in, flag_list in flags.FLAGS.flags_by_module_dict().items():
  if defined_in != name and not defined_in.startswith(ours):
    continue
  for flag in flag_list:
    kind = flag.flag_type()
    choices = getattr(flag.parser, "enum_values", None) or getattr(
        flag.parser, "member_names", None)
    if choices:
      kind += ": " + " | ".join(map(str, choices))
    bounded = (getattr(flag.parser, "lower_bound", None) is not None or
               getattr(flag.parser, "upper_bound", None) is not None)
    if bounded:
      kind += " (" + flag.parser.syntactic_help + ")"
    default = None if flag.default is None else flag.default_as_str
    if default is not None:
      try:
        default = ast.literal_eval(default)  # absl quotes it
      except (ValueError, SyntaxError):
        pass
    rows.append(dict(name=flag.name, short_name=flag.short_name, type=kind,
                     default=default, help=flag.help or "",
                     module=defined_in))
print(json.dumps(dict(doc=module.__doc__ or "", file=module.__file__,
                      flags=rows)))
"""


def commands() -> tuple[dict[str, str], str | None]:
  """`siamfc_jax.cli.COMMANDS` (subcommand -> module) and its program."""
  cli = importlib.import_module("siamfc_jax.cli")
  return dict(cli.COMMANDS), getattr(cli, "PROGRAM", None)


def read_flags(module: str) -> dict:
  """The module's docstring, file and flags, from a fresh interpreter."""
  # `-c` puts the working directory, the repository, first on sys.path.
  result = subprocess.run(
      [sys.executable, "-c", _FLAGS_SCRIPT, module, ",".join(_OURS)],
      cwd=_ROOT, capture_output=True, text=True, timeout=300)
  if result.returncode != 0:
    raise RuntimeError(f"importing {module} failed:\n{result.stderr}")
  return json.loads(result.stdout.strip().splitlines()[-1])


def _cell(*children: nodes.Node) -> nodes.entry:
  entry = nodes.entry()
  entry += nodes.paragraph("", "", *children)
  return entry


def _default(value) -> nodes.Node:
  if value is None:
    return nodes.emphasis("", "unset")
  if value == "":
    return nodes.literal("", '""')
  return nodes.literal("", str(value))


def flags_table(command: str, rows: list[dict]) -> nodes.table:
  """A table of flags, in the order they are defined."""
  table = nodes.table(classes=["cli-flags"])
  group = nodes.tgroup(cols=4)
  table += group
  for width in (22, 18, 14, 46):
    group += nodes.colspec(colwidth=width)
  head = nodes.thead()
  header = nodes.row()
  for title in ("Flag", "Type", "Default", "Help"):
    header += _cell(nodes.Text(title))
  head += header
  group += head
  body = nodes.tbody()
  for flag in rows:
    row = nodes.row(ids=[nodes.make_id(f"cli-{command}-{flag['name']}")])
    spelling = "--" + flag["name"]
    if flag["short_name"]:
      spelling += ", -" + flag["short_name"]
    row += _cell(nodes.literal("", spelling))
    row += _cell(nodes.Text(flag["type"]))
    row += _cell(_default(flag["default"]))
    row += _cell(nodes.Text(flag["help"]))
    body += row
  group += body
  return table


class CliReference(SphinxDirective):
  """Sections, one per command: how to run it, its docstring, its flags."""

  has_content = False

  def run(self) -> list[nodes.Node]:
    table, self.program = commands()
    missing = [module for module in table.values()
               if importlib.util.find_spec(module) is None]
    for module in missing:
      logger.warning("cli-reference: no module %s (siamfc_jax.cli.COMMANDS)",
                     module, location=self.get_location())
    table = {name: module for name, module in table.items()
             if module not in missing}
    workers = min(len(table), os.cpu_count() or 1) or 1
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
      infos = dict(zip(table, pool.map(read_flags, table.values())))
    out = [self._summary(table, infos)]
    for command, module in table.items():
      out.append(self._section(command, module, infos[command]))
    return out

  def _usage(self, command: str, module: str) -> str:
    if self.program:
      return f"{self.program} {command} [flags]"
    return f"python -m {module} [flags]"

  def _summary(self, table: dict[str, str], infos: dict) -> nodes.Node:
    items = nodes.bullet_list()
    for command in table:
      ref = nodes.reference("", "", internal=True,
                            refid=nodes.make_id(f"cli-{command}"))
      ref += nodes.literal("", command)
      lines = infos[command]["doc"].strip().splitlines()
      items += nodes.list_item("", nodes.paragraph(
          "", "", ref, nodes.Text(": " + (lines[0] if lines else ""))))
    return items

  def _section(self, command: str, module: str, info: dict) -> nodes.Node:
    self.env.note_dependency(info["file"])
    section_id = nodes.make_id(f"cli-{command}")
    section = nodes.section(ids=[section_id], names=[section_id])
    section += nodes.title("", command)
    section += nodes.paragraph(
        "", "", nodes.literal("", self._usage(command, module)),
        nodes.Text(" (module "), nodes.literal("", module), nodes.Text(")"))
    doc = info["doc"].strip("\n")
    if doc:
      block = nodes.literal_block(doc, doc)
      block["language"] = "text"
      section += block
    by_module: dict[str, list[dict]] = {}
    for flag in info["flags"]:
      by_module.setdefault(flag["module"], []).append(flag)
    own = by_module.pop(module, [])
    if own:
      section += flags_table(command, own)
    for defined_in, rows in sorted(by_module.items()):
      section += nodes.rubric("", f"Flags from {defined_in}")
      section += flags_table(command, rows)
    self.state.document.note_implicit_target(section, section)
    return section


def setup(app):
  app.add_directive("cli-reference", CliReference)
  return {"version": "1", "parallel_read_safe": True,
          "parallel_write_safe": True}
