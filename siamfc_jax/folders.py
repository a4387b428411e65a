"""Output folders (checkpoints, exports) written whole or not at all.

    check_replaceable(out, {"a.json", "b"}, "a checkpoint", overwrite)
    ...  # slow work that may fail
    with written_atomically(out) as tmp:
      (tmp / "a.json").write_text(...)

The files go to a temporary sibling that replaces `out` in one rename, so a
failure leaves the old folder (or none) and no partial one.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
from typing import Collection, Iterator
import uuid


def check_replaceable(directory: pathlib.Path, names: Collection[str],
                      what: str, overwrite: bool) -> None:
  """Refuses a `directory` that `written_atomically` must not replace.

  Absent or empty is fine; otherwise only with `overwrite`, and only if it
  holds nothing but `names` (what one of `what` consists of), so that
  overwriting never deletes files of other kinds.

  Raises:
    FileExistsError: naming `directory` and what is in the way.
  """
  if not directory.exists():
    return
  if not directory.is_dir():
    raise FileExistsError(f"{directory} exists and is not a directory")
  present = {p.name for p in directory.iterdir()}
  if present and not overwrite:
    raise FileExistsError(f"{directory} exists and is not empty (overwrite "
                          "to replace it)")
  if others := sorted(present - set(names)):
    raise FileExistsError(f"{directory} holds more than {what} "
                          f"({', '.join(others)}), so it is not {what} to "
                          "overwrite")


def _sibling(directory: pathlib.Path, tag: str) -> pathlib.Path:
  return directory.parent / f".{directory.name}.{tag}-{uuid.uuid4().hex}"


@contextlib.contextmanager
def written_atomically(directory: pathlib.Path) -> Iterator[pathlib.Path]:
  """Yields an empty temporary folder that then replaces `directory`."""
  directory.parent.mkdir(parents=True, exist_ok=True)
  tmp = _sibling(directory, "tmp")
  tmp.mkdir()
  try:
    yield tmp
    if directory.exists():  # moved aside first, deleted once replaced
      old = _sibling(directory, "old")
      os.replace(directory, old)
      os.replace(tmp, directory)
      shutil.rmtree(old, ignore_errors=True)
    else:
      os.replace(tmp, directory)
  finally:
    if tmp.exists():
      shutil.rmtree(tmp, ignore_errors=True)
