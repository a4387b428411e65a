"""The command line: `siamfc-jax COMMAND [--flags]`, one module a command.

    siamfc-jax track --seq=clip.mp4 --init_box=10,20,50,40
    python -m siamfc_jax track ...           # where scripts are not on PATH
    python -m experiments.track ...          # the same, in a checkout

Each module under `siamfc_jax/cli/` defines its absl flags and a
`main(argv)`; `experiments/*.py` and `benchmarks/tracking_speed.py` run the
same modules. Only the named command's module is imported (the commands
define flags of the same names).
"""

import ast
import importlib
import importlib.util
import sys

import siamfc_jax
from siamfc_jax.cli import entry

# Subcommand -> the module that implements it.
COMMANDS = {
    "track": "siamfc_jax.cli.track",
    "evaluate": "siamfc_jax.cli.evaluate",
    "train": "siamfc_jax.cli.train",
    "convert": "siamfc_jax.cli.convert",
    "export": "siamfc_jax.cli.export",
    "app": "siamfc_jax.cli.app",
    "benchmark": "siamfc_jax.cli.benchmark",
    "compare_runs": "siamfc_jax.cli.compare_runs",
    "vot_workspace": "siamfc_jax.cli.vot_workspace",
}
PROGRAM = "siamfc-jax"


def _summary(module_name: str) -> str:
  """The first line of a command module's docstring, without importing
  it (importing a command imports JAX)."""
  spec = importlib.util.find_spec(module_name)
  if spec is None:
    return "(not installed)"
  with open(spec.origin, encoding="utf-8") as f:
    doc = ast.get_docstring(ast.parse(f.read())) or ""
  return doc.splitlines()[0] if doc else ""


def usage() -> str:
  """The list of commands, as `siamfc-jax` and `siamfc-jax --help` print."""
  width = max(map(len, COMMANDS))
  lines = [f"usage: {PROGRAM} COMMAND [--flags]   ({PROGRAM} COMMAND "
           "--help for its flags)", "", "commands:"]
  lines += [f"  {name:<{width}}  {_summary(module)}"
            for name, module in COMMANDS.items()]
  return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
  """`siamfc-jax COMMAND ...`: runs the command's module with the flags."""
  argv = sys.argv if argv is None else argv
  if len(argv) < 2 or argv[1] in ("-h", "--help", "help"):
    print(usage())
    sys.exit(0 if len(argv) >= 2 else 2)
  if argv[1] == "--version":
    print(f"{PROGRAM} {siamfc_jax.__version__}")
    return
  name = argv[1]
  if name not in COMMANDS:
    print(f"{PROGRAM}: error: unknown command {name!r} (commands: "
          f"{', '.join(COMMANDS)}; see {PROGRAM} --help)", file=sys.stderr)
    sys.exit(2)
  # The name errors and absl's usage give: `siamfc-jax track: error: ...`.
  sys.argv = [f"{PROGRAM} {name}", *argv[2:]]
  module = importlib.import_module(COMMANDS[name])
  entry.run(module.main)
