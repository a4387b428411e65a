"""Runs an entry point: bad input as one line on stderr, not a traceback.

    if __name__ == "__main__":
      entry.run(main)            # instead of absl's app.run(main)

The library refuses bad input with a `ValueError`, `FileNotFoundError` or
`FileExistsError` whose message names the file or value (STYLE.md); the
OS refuses a path given with `IsADirectoryError`, `NotADirectoryError` or
`PermissionError`, which name it. A user
of the command line needs that message, not the 20 lines of stack above it:
`run` prints it as one line, `<program>: error: <message>`, and exits with
status 1 (absl's `app.UsageError` too, with its exit code, instead of
absl's usage text; a flag that does not parse adds "(see --help)").
Whatever the program wrote before (boxes, results) is kept. Any other
exception is a bug and keeps its traceback. Set
`SIAMFC_VERBOSE=1` in the environment to get the traceback of every error.

Warnings of the library (`sequences.GroundTruthWarning`, ...) are printed
as one line too, `<program>: warning: <message>`, without the file and line
prefix of Python's default format; other warnings keep that format.

JAX's INFO line "Unable to initialize backend 'tpu'" (absl's handler shows
INFO) is dropped: it is the probe of an optional plugin, on every command
of a machine without one. A backend that is asked for and fails still
raises, and a GPU is used where there is one.
"""

import logging
import os
import sys
from typing import Any, Callable
import warnings

from absl import app
from absl import flags
from absl import logging as absl_logging
from ml_collections import config_flags

from siamfc_jax import configs

# Set to 1 (or any value but "", "0") for tracebacks of refused input.
VERBOSE_ENV = "SIAMFC_VERBOSE"
# The library's exceptions for bad input (STYLE.md, "Errors").
# The OS's refusals of a path the user gave (an output that is a folder, a
# folder that is a file, no permission) name that path too.
INPUT_ERRORS = (ValueError, FileNotFoundError, FileExistsError,
                IsADirectoryError, NotADirectoryError, PermissionError)
# Warnings printed as one line: subclasses of these, raised by siamfc_jax.
_ONE_LINE_WARNINGS = (UserWarning,)


def verbose() -> bool:
  """Whether `SIAMFC_VERBOSE` asks for tracebacks."""
  return os.environ.get(VERBOSE_ENV, "").strip() not in ("", "0")


def program_name(argv0: str | None = None) -> str:
  """`track` for `python -m experiments.track` (the script's stem),
  `siamfc-jax track` for the installed command."""
  argv0 = sys.argv[0] if argv0 is None else argv0
  return os.path.splitext(os.path.basename(argv0))[0] or "siamfc_jax"


def one_line(message: Any) -> str:
  """The message with its lines joined by spaces (one line of output)."""
  return " ".join(part.strip() for part in str(message).splitlines()
                  if part.strip())


def print_error(message: Any) -> None:
  """Writes `<program>: error: <message>` as one line on stderr."""
  sys.stdout.flush()  # what was printed before comes first
  print(f"{program_name()}: error: {one_line(message)}", file=sys.stderr,
        flush=True)


def _is_ours(category: type, filename: str) -> bool:
  """A warning class of ours, or a UserWarning raised in siamfc_jax."""
  if category.__module__.startswith("siamfc_jax"):
    return True
  package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  return (issubclass(category, _ONE_LINE_WARNINGS) and
          os.path.abspath(filename).startswith(package + os.sep))


def install_warning_format() -> None:
  """Prints the library's warnings as `<program>: warning: <message>`."""
  default = warnings.showwarning

  def show(message, category, filename, lineno, file=None, line=None):
    if not _is_ours(category, filename):
      default(message, category, filename, lineno, file, line)
      return
    out = sys.stderr if file is None else file
    print(f"{program_name()}: warning: {one_line(message)}", file=out,
          flush=True)

  warnings.showwarning = show


class _QuietBackendProbe(logging.Filter):
  """Drops JAX's INFO records of optional backends that failed to load."""

  def filter(self, record: logging.LogRecord) -> bool:
    return not (record.levelno <= logging.INFO and
                str(record.msg).startswith("Unable to initialize backend"))


def quiet_jax_backend_probe() -> None:
  """Hides JAX's "Unable to initialize backend 'tpu'" INFO line (module
  docstring); idempotent."""
  logger = logging.getLogger("jax._src.xla_bridge")
  if not any(isinstance(f, _QuietBackendProbe) for f in logger.filters):
    logger.addFilter(_QuietBackendProbe())


def catch_input_errors(main: Callable[[list[str]], Any]
                       ) -> Callable[[list[str]], Any]:
  """`main` with refused input turned into one line and exit status 1,
  and absl's log at WARNING unless --verbosity asks for more (orbax logs
  every checkpoint file it reads or writes at INFO)."""

  def wrapped(argv):
    if "verbosity" in flags.FLAGS and not flags.FLAGS["verbosity"].present:
      absl_logging.set_verbosity(absl_logging.WARNING)
    try:
      return main(argv)
    except app.UsageError as e:
      if verbose():
        raise
      # Mains also raise it for refused input, so no "see --help" here.
      print_error(e)
      sys.exit(e.exitcode)
    except INPUT_ERRORS as e:
      if verbose():
        raise
      print_error(e)
      sys.exit(1)

  return wrapped


def resolve_config_names(argv: list[str]) -> list[str]:
  """`--config=vid` (a flag of ml_collections' config files given a
  shipped config's name) as the path of that file (`configs.resolve`)."""
  out = []
  for arg in argv:
    name, eq, value = arg.partition("=")
    flag = flags.FLAGS[name[2:]] if (
        eq and name.startswith("--") and name[2:] in flags.FLAGS) else None
    if flag is not None and isinstance(
        flag.parser, config_flags.config_flags.ConfigFileFlagParser):
      try:
        arg = f"{name}={configs.resolve(value)}"
      except FileNotFoundError as e:
        raise flags.IllegalFlagValueError(f"{name}: {e}") from None
    out.append(arg)
  return out


def _parse_flags(argv: list[str]) -> list[str]:
  """absl's flag parsing, its errors as one line (not two)."""
  try:
    return flags.FLAGS(resolve_config_names(argv))
  except flags.Error as e:
    message = str(e)
    # ml_collections puts a config file's traceback in its error; the last
    # line is the cause.
    head, traceback, _ = message.partition("Traceback (most recent call")
    if traceback:
      message = f"{head.rstrip().rstrip(':')}: {message.splitlines()[-1]}"
    print_error(f"{message} (see --help)")
    sys.exit(1)


def run(main: Callable[[list[str]], Any]) -> None:
  """`app.run(main)` with one-line errors and warnings (module docstring).

  `--help` prints the docstring of `main`'s module, whichever script runs
  it (`siamfc-jax`, `python -m experiments.track`).
  """
  main_module = sys.modules["__main__"]
  if main_module is not sys.modules.get(main.__module__):
    main_module.__doc__ = sys.modules[main.__module__].__doc__
  install_warning_format()
  quiet_jax_backend_probe()
  app.run(catch_input_errors(main), flags_parser=_parse_flags)
