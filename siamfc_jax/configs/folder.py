r"""Train on any folder of sequences (OTB, VOT or GOT-10k layouts).

  siamfc-jax train --config=folder \
      --workdir=runs/shared --config.data.dir=../shared/data/sequences

The last `data.val_sequences` sequences (in the folder's list.txt order if
it has one, else sorted by name) are held out for validation. Variants:
`folder.py:small` (a 1/4-width network and 10 epochs of 5,000 pairs, for a
CPU or a quick GPU run).
"""

import ml_collections

from siamfc_jax.configs import vid


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  c = vid.get_config()
  with c.unlocked():
    c.data.kind = "folder"
    c.data.val_sequences = 3
    if arg == "small":
      c.model.width = 0.25
      c.num_epochs = 10
      c.pairs_per_epoch = 5_000
      c.val_batches = 20
    elif arg:
      raise ValueError(f"unknown variant {arg!r} of folder.py (known: small)")
  return c
