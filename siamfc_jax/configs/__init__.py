"""The training configs, shipped with the package (`siamfc-jax train
--config=vid`), also reachable in a checkout as `experiments/configs/*.py`.

A config is a Python file with `get_config(arg) -> ConfigDict`
(ml_collections' config files; a variant follows a colon: `cfnet:conv1`).
"""

import os
import pathlib

FOLDER = pathlib.Path(__file__).resolve().parent
# The configs a user names: vid (the paper's recipe), got10k, folder (any
# folder of sequences), finetune, cfnet, tiny (seconds on a CPU).
NAMES = tuple(sorted(p.stem for p in FOLDER.glob("*.py")
                     if not p.stem.startswith("_")))


def resolve(value: str) -> str:
  """A config name (`vid`, `vid.py`, `cfnet:conv1`) as its shipped file's
  path; an existing file (`my.py:variant`) as it is.

  Args:
    value: the value of a `--config` flag: NAME[:variant] or PATH[:variant].

  Returns:
    PATH[:variant], PATH the shipped file of NAME.

  Raises:
    FileNotFoundError: neither a shipped name nor an existing file.
  """
  name, colon, variant = value.partition(":")
  if os.path.isfile(name):
    return value
  if name.removesuffix(".py") in NAMES:  # `vid`, or `vid.py` from a wheel
    return f"{FOLDER / name.removesuffix('.py')}.py{colon}{variant}"
  raise FileNotFoundError(f"{name}: no such config file, nor a config of "
                          f"siamfc_jax ({', '.join(NAMES)})")
