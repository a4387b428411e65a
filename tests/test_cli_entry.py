"""Tests of `siamfc_jax/cli/entry.py` (in-process; see test_cli_errors.py for
the entry points run as subprocesses)."""

import sys
import warnings

from absl import app
import pytest

from siamfc_jax.cli import entry
from siamfc_jax.data import sequences


@pytest.fixture(autouse=True)
def program(monkeypatch):
  monkeypatch.setattr(sys, "argv", ["/repo/siamfc_jax/cli/track.py"])
  monkeypatch.delenv(entry.VERBOSE_ENV, raising=False)


def _fail(error):
  def main(argv):
    del argv
    print("kept output")
    raise error
  return entry.catch_input_errors(main)


@pytest.mark.parametrize("error, exitcode, line", [
    (ValueError("a.txt:3: bad\nline"), 1, "track: error: a.txt:3: bad line"),
    (FileNotFoundError("b.jpg: gone"), 1, "track: error: b.jpg: gone"),
    (FileExistsError("out: exists"), 1, "track: error: out: exists"),
    (IsADirectoryError(21, "Is a directory", "out"), 1,
     "track: error: [Errno 21] Is a directory: 'out'"),
    (app.UsageError("--x: no", exitcode=2), 2,
     "track: error: --x: no"),
])
def test_refused_input_is_one_line_on_stderr_and_an_exit_status(
    capsys, error, exitcode, line):
  with pytest.raises(SystemExit) as exit_info:
    _fail(error)(["track"])
  assert exit_info.value.code == exitcode
  out, err = capsys.readouterr()
  assert out == "kept output\n" and err == line + "\n"


def test_other_exceptions_keep_their_traceback():
  with pytest.raises(KeyError):
    _fail(KeyError("a bug"))(["track"])


@pytest.mark.parametrize("value, verbose", [("1", True), ("0", False),
                                            ("", False)])
def test_siamfc_verbose_reraises_refused_input(monkeypatch, value, verbose):
  monkeypatch.setenv(entry.VERBOSE_ENV, value)
  with pytest.raises(ValueError if verbose else SystemExit):
    _fail(ValueError("bad"))(["track"])


def test_library_warnings_are_one_line_others_keep_their_format(capsys):
  others = []
  with warnings.catch_warnings():  # restores showwarning afterwards
    warnings.simplefilter("always")
    warnings.showwarning = lambda *args, **kwargs: others.append(args)
    entry.install_warning_format()
    warnings.warn(sequences.GroundTruthWarning("gt.txt: 5 lines\nbut 3"))
    warnings.warn("someone else's", RuntimeWarning)
  assert capsys.readouterr().err == "track: warning: gt.txt: 5 lines but 3\n"
  # Python's own format (with file and line) for the others.
  (message, category, filename, *_), = others
  assert str(message) == "someone else's" and category is RuntimeWarning
  assert filename == __file__
