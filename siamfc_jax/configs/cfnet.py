r"""CFNet as its paper trains it (Valmadre et al., CVPR'17; `bertinetto/cfnet`).

  siamfc-jax train --config=cfnet:conv2 \
      --workdir=runs/cfnet-conv2 --config.data.dir=/path/to/ILSVRC2015

Variants after the colon: conv1, conv2 (default), conv3 (baseline+CF-conv3),
conv5 (`embedding.cfnet_spec`), baseline-conv5 (the same conv5 branch with
plain cross-correlation), and tiny (a seconds-long CPU run on synthetic
pairs, for tests). What differs from SiamFC (`experiment.m`,
`run_experiment_cfnet_conv*.m`):
- exemplar and search are both the whole 255 crop (127 exemplars for
  baseline-conv5), 33x33 score maps at stride 4, label radius 8 px;
- no translation or stretch augmentation, colour jitter kept;
- learning rate logspace(-2, -4) over 50 epochs, then 1e-4 to epoch 100;
- 25 pairs per training video per epoch (3862 VID videos);
- after the CF, the final affine layer is learned (gain init 1, bias init
  -0.5; lr x1 and x2, no weight decay: `training.CF_PARAM_GROUPS`).
One deliberate difference: the original ends baseline-conv5 with a batch
norm of the score map (`fin_adjust_bn`, lr [2 1 0.3]); ours keeps SiamFC's
fixed 1e-3 gain and learned bias there, so every xcorr net has one head.
The tracking hyper-parameters saved with the trained net are the variant's
preset (`tracking.PRESETS`); conv5 has none in the original code, so it
gets conv2's.
"""

import ml_collections

from siamfc_jax.configs import vid

_VARIANTS = {"conv1": "cfnet-conv1", "conv2": "cfnet-conv2",
             "conv3": "cfnet-conv3", "conv5": "cfnet-conv5",
             "baseline-conv5": "baseline-conv5"}
_TRACK = {"cfnet-conv5": "cfnet-conv2"}  # no published conv5 settings


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  from siamfc_jax import tracking  # pylint: disable=g-import-not-at-top
  variant = arg or "conv2"
  if variant not in (*_VARIANTS, "tiny"):
    raise ValueError(f"unknown variant {variant!r} of cfnet.py (known: "
                     f"{', '.join(_VARIANTS)}, tiny)")
  arch = _VARIANTS.get(variant, "cfnet-conv2")
  c = vid.get_config()
  with c.unlocked():
    c.model.arch = arch
    # The CF (`run_experiment_cfnet_conv*.m`): ridge lambda, target sigma in
    # input pixels, cells cropped from each side of the filter.
    c.model.cf_lambda = 10.0
    c.model.cf_sigma = 8.0
    c.model.cf_margin = 16
    c.data.max_stretch = 0.0
    c.data.max_translate = 0
    c.exemplar_size = 127 if arch == "baseline-conv5" else 255
    c.instance_size = 255
    c.label_radius = 8.0
    c.num_epochs = 100
    c.lr_epochs = 50
    c.lr_end = 1e-4
    c.pairs_per_epoch = 25 * 3862
    preset = tracking.PRESETS[_TRACK.get(arch, arch)]
    c.track = ml_collections.ConfigDict(preset.to_dict())
    if variant == "tiny":
      # A 1/8-width cfnet-conv2 on 95-pixel synthetic pairs: 95 -> 17x17
      # features, 11x11 template (margin 3), 7x7 score maps.
      c.data.kind = "synthetic"
      c.data.workers = 0
      c.model.width = 0.125
      c.model.cf_margin = 3
      c.exemplar_size = c.instance_size = 95
      c.track.exemplar_size = c.track.instance_size = 95
      # As tiny.py: a narrow net learns in a hundred steps only at far
      # larger rates than the paper's.
      c.num_epochs = c.lr_epochs = 2
      c.pairs_per_epoch = 400
      c.lr_start, c.lr_end = 1.0, 0.1
      c.val_batches = 4
      c.log_every_steps = 10
      c.checkpoint_every_steps = 25
      c.tensorboard = False
  return c
