r"""Fine-tune a network on a folder of your own sequences (drones, cells, ...).

  siamfc-jax train --config=finetune \
      --workdir=runs/my-drones --config.data.dir=/path/to/my/sequences \
      --config.track_val.root=/path/to/held-out/sequences \
      [--config.init_from=model.mat --config.freeze=conv1,conv2 \
       --config.loss=triplet]

Starts from the bundled original SiamFC network (`init_from="pretrained"`;
any checkpoint, training workdir or .mat / .pth / .npz file works) and
trains as Dong & Shen fine-tune it for their triplet loss
(`run_experiment_tri.m` of github.com/shenjianbing/TripletTracking: 10
epochs at rates logspace(-4, -5), batch 8), on the folder's sequences (the
last `data.val_sequences` held out for the pair validation, as folder.py).
Point `track_val.root` at a folder of held-out sequences to choose the
checkpoint by how well it tracks: `Tracker.from_checkpoint(workdir,
which="best")`.

conv1 is frozen by default. The bundled network has its BN folded into the
convolutions (no BN moments to update), which leaves conv1's kernel (norm
0.095, on 0-255 pixels) about 1,200 times smaller than its gradient: at the
authors' rate 1e-4, trained whole, the loss went 0.27 -> 1.25 -> 6.8 in two
steps and NaN by step 8 (docs/training.md); with conv1 frozen it falls. A
network with BN layers (a .pth of siamfc-pytorch, a training checkpoint)
may train whole: `--config.freeze=`.
"""

import ml_collections

from siamfc_jax.configs import folder


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  if arg:
    raise ValueError(f"unknown variant {arg!r} of finetune.py (none)")
  c = folder.get_config()
  with c.unlocked():
    c.init_from = "pretrained"
    # Dong & Shen's fine-tuning schedule (`run_experiment_tri.m`).
    c.num_epochs = 10
    c.lr_start = 1e-4
    c.lr_end = 1e-5
    # Folded BN leaves conv1 untrainable at these rates (see above).
    c.freeze = "conv1"
    # A user's folder is small: 5,000 pairs an epoch, 20 batches held out.
    c.pairs_per_epoch = 5_000
    c.val_batches = 20
    c.checkpoint_every_steps = 250
    # Track 300 frames of each held-out sequence after every epoch.
    c.track_val.max_frames = 300
  return c
