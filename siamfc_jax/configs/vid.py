r"""SiamFC as the paper trains it: ImageNet VID, 50 epochs (Sec. 2.2-2.4, 4.1).

  siamfc-jax train --config=vid \
      --workdir=runs/vid --config.data.dir=/path/to/ILSVRC2015

Variants after a colon: `vid.py:gray` (25 % grayscale pairs, the OTB model).
Every other config starts from this one.
"""

import ml_collections


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  # Seed of initialisation and pair sampling.
  c.seed = 0

  c.model = ml_collections.ConfigDict()
  # The network: "alexnet" (Table 1) or a CFNet variant (configs/cfnet.py).
  c.model.arch = "alexnet"
  # Channel multiplier of the embedding (Table 1: 1.0).
  c.model.width = 1.0
  # BN after conv1-4 during training (Sec. 2.4, "Network Architecture").
  c.model.batch_norm = True

  c.data = ml_collections.ConfigDict()
  # Dataset: vid | got10k | folder (a folder of OTB/VOT/GOT-10k sequences)
  # | synthetic (generated pairs, no files).
  c.data.kind = "vid"
  # Raw dataset root (for vid: the folder holding Data/ and Annotations/).
  c.data.dir = ""
  # Where the curated TFDS dataset is built / read ("" = TFDS's default,
  # $TFDS_DATA_DIR or ~/tensorflow_datasets).
  c.data.tfds_dir = ""
  # Frames curated at once when the dataset is first built (Pillow releases
  # the GIL; VID has about a million frames).
  c.data.curation_threads = 8
  # Largest distance between exemplar and search frame, counted in
  # annotated frames of the track (Sec. 2.2, T = 100; `frameRange`).
  c.data.max_frame_gap = 100
  # Search-crop augmentation of the original: stretch up to 5 %, shift up
  # to 4 px (`maxStretch`, `maxTranslate`).
  c.data.max_stretch = 0.05
  c.data.max_translate = 4
  # Largest synthetic object displacement (synthetic data only).
  c.data.max_shift = 4
  # Colour jitter of the original (`augment.color`).
  c.data.color_jitter = True
  # Fraction of pairs turned grayscale (0 for VOT; 0.25 for the OTB model).
  c.data.grayscale = 0.0
  # Sequences held out for validation (folder kind): count taken from the
  # end of the folder's list.txt order, else of the names sorted.
  c.data.val_sequences = 0
  # Parallel loading workers (0 = in the training process).
  c.data.workers = 4
  # One object class per global batch (VID/GOT-10k): same-class negatives.
  c.data.same_class_batches = False

  # Exemplar and training-search crop sides: 255 - 2 * 8 = 239 gives the
  # 15x15 training maps of the original (`instanceSize`, siamese-fc#5).
  c.exemplar_size = 127
  c.instance_size = 239
  # Label radius R in input pixels (`rPos` = 16: 2 cells at stride 8).
  c.label_radius = 16.0

  # SGD (Sec. 4.1): 50 epochs of 50,000 pairs, batch 8, learning rate
  # annealed geometrically from 1e-2 to 1e-5, momentum 0.9, decay 5e-4.
  c.num_epochs = 50
  c.pairs_per_epoch = 50_000
  c.batch_size = 8
  c.lr_start = 1e-2
  c.lr_end = 1e-5
  # Epochs over which the rate anneals (0: all); later ones keep lr_end.
  c.lr_epochs = 0
  c.momentum = 0.9
  c.weight_decay = 5e-4

  # Held-out batches scored after every epoch.
  c.val_batches = 50
  # Logging, checkpoints (orbax; the newest `keep_checkpoints` are kept).
  c.log_every_steps = 100
  c.checkpoint_every_steps = 1000
  c.keep_checkpoints = 3
  c.tensorboard = True
  # Stop after this many steps (0: run to the end); simulates preemption.
  c.stop_after_steps = 0

  # Loss (`losses.py`): "logistic" (Eq. 4), "triplet" (Dong & Shen, ECCV
  # 2018) or "logistic+triplet" (logistic + triplet_weight x triplet).
  c.loss = "logistic"
  c.triplet_weight = 1.0
  # Hard negatives. In-batch: each exemplar also meets the search crops of
  # the next K pairs of its batch (whole maps of negatives; 0: off, at most
  # batch_size - 1). Mining: only the k highest-scoring negatives of each
  # exemplar count (0: all).
  c.in_batch_negatives = 0
  c.hard_negatives_topk = 0
  # Fine-tuning: start from "pretrained" (the bundled original network), a
  # checkpoint directory or training workdir, or a .mat / .pth / .npz file
  # ("": a fresh network of `model`); its architecture replaces `model`.
  c.init_from = ""
  # Layers whose parameters and BN moments stay fixed: "conv1,conv2",
  # "adjust" (the output gain and bias), ...; "" for none.
  c.freeze = ""
  # Compute dtype of the embedding's convolutions: "float32" or "bfloat16"
  # (parameters, optimiser state, BN and the loss stay float32).
  c.compute_dtype = "float32"

  # Validation by tracking: every `track_val_every_steps` steps (0: every
  # epoch) the current net tracks the first `max_frames` frames (0: all) of
  # each sequence of the folder `root` (any layout `read_dataset` reads;
  # "": off); success AUC and precision are logged and the best net by AUC
  # is kept in workdir/best.
  c.track_val = ml_collections.ConfigDict(dict(root="", max_frames=0))
  c.track_val_every_steps = 0

  # Tracking hyper-parameters saved with the trained network (SiamFC-3s).
  c.track = ml_collections.ConfigDict(dict(
      num_scales=3, scale_step=1.0375, scale_penalty=0.9745, scale_lr=0.59,
      response_up=16, window_influence=0.176, context=0.5, exemplar_size=127,
      instance_size=255, min_scale=0.2, max_scale=5.0))

  if arg == "gray":
    c.data.grayscale = 0.25
  elif arg:
    raise ValueError(f"unknown variant {arg!r} of vid.py (known: gray)")
  c.lock()
  return c
