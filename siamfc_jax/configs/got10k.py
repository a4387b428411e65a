r"""Train on GOT-10k (`train/` for training, `val/` for validation).

  siamfc-jax train --config=got10k \
      --workdir=runs/got10k --config.data.dir=/path/to/GOT-10k

Everything else as the paper's VID recipe (`vid.py`); the GOT-10k protocol
allows training on GOT-10k `train` only.
"""

import ml_collections

from siamfc_jax.configs import vid


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  if arg:
    raise ValueError(f"got10k.py has no variants, got {arg!r}")
  c = vid.get_config()
  with c.unlocked():
    c.data.kind = "got10k"
  return c
