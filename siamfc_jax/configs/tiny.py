r"""A seconds-long run on a CPU with synthetic pairs (tests, smoke runs).

  siamfc-jax train --config=tiny \
      --workdir=/tmp/tiny
"""

import ml_collections

from siamfc_jax.configs import vid


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  del arg
  c = vid.get_config()
  with c.unlocked():
    c.data.kind = "synthetic"
    c.data.workers = 0
    # A 1/8-width network and the smallest crops it accepts: 103 -> 3x3
    # exemplar features, 151 -> 9x9 search features, 7x7 score maps.
    c.model.width = 0.125
    c.exemplar_size = 103
    c.instance_size = 151
    c.track.exemplar_size = 103
    c.track.instance_size = 167
    # A narrow net with its 1e-3 output gain learns slowly at the paper's
    # rates; 10x larger rates train it in a hundred steps.
    c.num_epochs = 2
    c.pairs_per_epoch = 400
    c.batch_size = 8
    c.lr_start = 1e-1
    c.lr_end = 1e-2
    c.val_batches = 4
    c.log_every_steps = 10
    c.checkpoint_every_steps = 25
    c.tensorboard = False
  return c
