"""Offline similarity learning of SiamFC (Sec. 2.2-2.4, 4.1).

`train_step` is one jitted pure function (state, batch) -> (state, metrics)
over a `TrainState` pytree, data-parallel over a `jax.sharding.Mesh` with one
axis `data` (batch sharded, state replicated): one code path for 1 or N
devices, and for several hosts once `jax.distributed.initialize` has run
(each host reads its slice of every global batch; the state is placed
through the host, the orbax checkpoints are written and restored by all
hosts together, the tracker checkpoints by process 0 alone;
`tests/test_multihost.py` trains 2 processes against 1).
`train_and_evaluate(config, workdir)` is the loop: data, checkpoints (orbax,
resumed automatically from `workdir`), TensorBoard logs, validation, and a
tracker checkpoint (`workdir/tracker`) that `Tracker.from_checkpoint` loads.

What the original code does (`experiment.m`, MatConvNet `cnn_train_dag`) and
we follow: SGD with momentum 0.9, the batch-mean of the per-pair balanced
loss, weight decay 5e-4 added to the gradient of conv kernels and the adjust
bias only, per-parameter learning-rate multipliers (conv bias x2, BN gain x2,
BN bias x1, adjust gain frozen at 1e-3; CFNet learns gain and bias:
`CF_PARAM_GROUPS`), one learning rate per epoch from logspace(-2, -5,
epochs), BN running moments averaged at rate 0.05 from the
mean of the exemplar and search batches' moments (the two branches share one
BN layer). One difference: the original blends the moments' sigma, we blend
the variance (Flax stores variances).

Options beyond the paper (config fields, off by default; docs/training.md):

- `loss`: "logistic" (Eq. 4), "triplet" (Dong & Shen, ECCV'18; `losses.py`)
  or "logistic+triplet" (logistic + `triplet_weight` x triplet).
- Hard negatives: `in_batch_negatives` K appends, for each exemplar, the
  whole score maps against the search crops of the next K pairs of the
  batch (every cell a negative; the same forward pass's embeddings, only K
  more cross-correlations); `hard_negatives_topk` k keeps only the k
  highest-scoring negatives of each exemplar (`losses.hardest`). With
  either, the logistic loss puts its negative half on those negatives.
  Negatives from other videos of the same class (Dong & Shen's hard
  negatives): `data.same_class_batches` draws every global batch from one
  object class, its other pairs from other videos than the first pair's
  (`data/pairs.py`; VID and GOT-10k classes), so the in-batch negatives
  are objects of the exemplar's class; the train step is the same.
- Fine-tuning: `init_from` starts from an imported network ("pretrained",
  a checkpoint or training workdir, a .mat / .pth / .npz file; its spec
  replaces `config.model`); `freeze` lists layers ("conv1,conv2", "adjust")
  whose parameters get zero updates (no decay either) and whose BN running
  moments stay as loaded (their normalisation in a training step still
  uses the batch's moments, as every BN layer in training mode).
- `compute_dtype` "bfloat16": the embedding's convolutions multiply in
  bfloat16 and sum in float32 (`embedding.Conv`); parameters, optimiser
  state, BN, the cross-correlation and the loss stay float32.
- Validation by tracking (`track_val.root`): the current network tracks the
  first `track_val.max_frames` frames of every sequence of a folder with the
  tracker's jitted step; success AUC and precision (20 px) are logged, and
  the best network by AUC is kept as a tracker checkpoint `workdir/best`
  (`Tracker.from_checkpoint(workdir, which="best")`) beside the orbax
  training checkpoints and the final `workdir/tracker`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import pathlib
import time
from typing import Any, Callable

import flax.struct
import jax
from jax.sharding import Mesh
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import orbax.checkpoint as ocp

from siamfc_jax import checkpoints
from siamfc_jax import convert
from siamfc_jax import embedding
from siamfc_jax import labels as labels_lib
from siamfc_jax import losses
from siamfc_jax import model as model_lib
from siamfc_jax import pretrained
from siamfc_jax import tracker as tracker_lib
from siamfc_jax import tracking
from siamfc_jax.data import pairs
from siamfc_jax.data import sequences
from siamfc_jax.data import synthetic
from siamfc_jax.evaluation import metrics as metrics_lib

# (learning-rate multiplier, weight-decay multiplier) of each kind of
# parameter in the original (`add_block`, `add_adjust_layer`, errata 8.3).
PARAM_GROUPS = {
    "conv_kernel": (1.0, 1.0),
    "conv_bias": (2.0, 0.0),
    "bn_scale": (2.0, 0.0),
    "bn_bias": (1.0, 0.0),
    "adjust_scale": (0.0, 0.0),
    "adjust_bias": (1.0, 1.0),
}
# CFNet learns its final affine layer (`fin_adjust`: lr [1 2], wd [0 0]).
CF_PARAM_GROUPS = {**PARAM_GROUPS, "adjust_scale": (1.0, 0.0),
                   "adjust_bias": (2.0, 0.0)}


def param_groups(spec: embedding.ModelSpec) -> dict[str, tuple[float, float]]:
  """The (lr, wd) multipliers of a network: CF_PARAM_GROUPS for CFNet."""
  return CF_PARAM_GROUPS if spec.join == "cf" else PARAM_GROUPS


@flax.struct.dataclass
class TrainState:
  """Everything a training step changes.

  Attributes:
    step: [] int32 number of steps taken.
    params: network parameters (tree of `model.py`).
    batch_stats: BN running moments ({} without BN).
    opt_state: optax state.
  """

  step: jax.Array
  params: Any
  batch_stats: Any
  opt_state: Any

  @property
  def variables(self) -> model_lib.Variables:
    v = {"params": self.params}
    if self.batch_stats:
      v["batch_stats"] = self.batch_stats
    return v


@dataclasses.dataclass(frozen=True)
class LossSpec:
  """What a training step minimises (static).

  Attributes:
    kind: "logistic", "triplet" or "logistic+triplet".
    triplet_weight: weight of the triplet term in "logistic+triplet".
    topk: keep the k highest-scoring negatives of each exemplar (0: all).
    in_batch: other pairs' search maps per exemplar as extra negatives.
  """

  kind: str = "logistic"
  triplet_weight: float = 1.0
  topk: int = 0
  in_batch: int = 0

  def __post_init__(self):
    if self.kind not in LOSSES:
      raise ValueError(f"config.loss must be one of {LOSSES}, got "
                       f"{self.kind!r}")
    if self.topk < 0 or self.in_batch < 0:
      raise ValueError(f"config.hard_negatives_topk ({self.topk}) and "
                       f"config.in_batch_negatives ({self.in_batch}) must be "
                       ">= 0")

  @property
  def plain(self) -> bool:
    """The paper's loss: the map's own cells, all of them."""
    return self.kind == "logistic" and not self.topk and not self.in_batch


LOSSES = ("logistic", "triplet", "logistic+triplet")
COMPUTE_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def param_group(path: tuple[str, ...]) -> str:
  """The `PARAM_GROUPS` key of a parameter, from its path in the tree."""
  if path[-1] in ("adjust_scale", "adjust_bias"):
    return path[-1]
  layer, leaf = path[-2], path[-1]
  if layer.startswith("bn"):
    return f"bn_{leaf}"
  return f"conv_{leaf}"


def lr_schedule(lr_start: float, lr_end: float, num_epochs: int,
                steps_per_epoch: int) -> optax.Schedule:
  """One rate per epoch, geometric from `lr_start` to `lr_end` (Sec. 4.1).

  Epoch e (0-based) uses lr_start * (lr_end / lr_start) ** (e / (E - 1)),
  i.e. MATLAB's logspace(log10(start), log10(end), E); epochs past E keep
  `lr_end` (CFNet anneals over 50 epochs and trains 100).
  """
  ratio = (lr_end / lr_start) ** (1.0 / max(num_epochs - 1, 1))

  def schedule(step):
    epoch = jnp.minimum(step // steps_per_epoch, num_epochs - 1)
    return lr_start * ratio ** epoch

  return schedule


def frozen_layer(path: tuple[str, ...], frozen: tuple[str, ...]) -> bool:
  """Whether a parameter belongs to a layer of `frozen` ("conv3" covers
  `conv3` and `bn3`; "adjust" the output gain and bias)."""
  if path[-1] in ("adjust_scale", "adjust_bias"):
    return "adjust" in frozen
  layer = path[-2]
  return f"conv{layer.removeprefix('conv').removeprefix('bn')}" in frozen


def check_frozen(spec: embedding.ModelSpec, frozen: tuple[str, ...]) -> None:
  """Raises ValueError naming a `config.freeze` entry the net lacks."""
  known = [f"conv{i}" for i in range(1, len(spec.layers) + 1)] + ["adjust"]
  for name in frozen:
    if name not in known:
      raise ValueError(f"config.freeze: no layer {name!r} in this network "
                       f"(known: {', '.join(known)})")


def make_optimizer(schedule: optax.Schedule, momentum: float = 0.9,
                   weight_decay: float = 5e-4,
                   groups: dict[str, tuple[float, float]] | None = None,
                   frozen: tuple[str, ...] = ()
                   ) -> optax.GradientTransformation:
  """SGD as MatConvNet: m = momentum * m + (g + wd * w); w -= lr * mult * m.

  `groups`: (lr, wd) multipliers per `param_group` (default PARAM_GROUPS;
  CF_PARAM_GROUPS for CFNet). `frozen`: layers (`frozen_layer`) whose
  updates are zero.
  """
  groups = PARAM_GROUPS if groups is None else groups

  def group(lr_mult, wd_mult):
    if lr_mult == 0:
      return optax.set_to_zero()
    return optax.chain(
        optax.add_decayed_weights(weight_decay * wd_mult),
        optax.trace(decay=momentum),
        optax.scale_by_learning_rate(lambda s: schedule(s) * lr_mult))

  def label(path):
    path = tuple(k.key for k in path)
    return "frozen" if frozen_layer(path, frozen) else param_group(path)

  def labels(params):
    return jax.tree_util.tree_map_with_path(lambda p, _: label(p), params)

  transforms = {name: group(*mults) for name, mults in groups.items()}
  if frozen:  # only then: the optimiser state of older runs stays the same
    transforms["frozen"] = optax.set_to_zero()
  return optax.multi_transform(transforms, labels)


def create_train_state(spec: embedding.ModelSpec, key: jax.Array,
                       optimizer: optax.GradientTransformation,
                       variables: model_lib.Variables | None = None
                       ) -> TrainState:
  """Fresh state: He fan-out init, BN 1/0, adjust 1e-3/0 (Sec. 4.1), or
  the given `variables` of `spec` (fine-tuning)."""
  if variables is None:
    variables = model_lib.init(spec, key)
  variables = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), variables)
  return TrainState(step=jnp.zeros((), jnp.int32), params=variables["params"],
                    batch_stats=variables.get("batch_stats", {}),
                    opt_state=optimizer.init(variables["params"]))


def peak_error(score: jax.Array, stride: int) -> jax.Array:
  """[B, n, n] scores -> [B] distance (input px) of each peak from the centre.

  Positive pairs have the target at the centre, so this is the localisation
  error the issue's validation reports.
  """
  n = score.shape[-1]
  flat = jnp.argmax(score.reshape(score.shape[0], -1), axis=-1)
  row, col = jnp.divmod(flat, n)
  centre = (n - 1) / 2
  return jnp.hypot(row - centre, col - centre) * stride


def _forward(spec, variables, batch, train: bool, dtype=jnp.float32,
             in_batch: int = 0):
  """Scores of the B pairs, the BN moments they produce (train only) and
  [B, K, n, n] maps of each exemplar against the next K pairs' search
  crops (None for K = 0)."""
  net = model_lib.SiamFC(spec, dtype=dtype)
  z = batch["z"].astype(jnp.float32)
  x = batch["x"].astype(jnp.float32)
  if train:
    z_tmpl, z_upd = net.apply(variables, z, train=True,
                              method=model_lib.SiamFC.template,
                              mutable=["batch_stats"])
    x_feat, x_upd = net.apply(variables, x, train=True,
                              method=model_lib.SiamFC.embed,
                              mutable=["batch_stats"])
    # Shared BN: blend the mean of both branches' batch moments (see above).
    stats = jax.tree.map(lambda a, b: (a + b) / 2,
                         z_upd.get("batch_stats", {}),
                         x_upd.get("batch_stats", {}))
  else:
    z_tmpl = net.apply(variables, z, method=model_lib.SiamFC.template)
    x_feat = net.apply(variables, x, method=model_lib.SiamFC.embed)
    stats = None
  score = net.apply(variables, z_tmpl, x_feat, method=model_lib.SiamFC.score)
  extra = None
  if in_batch:
    # Exemplar b against search crop b + k (mod B): a rotation of the
    # batch, the same each step, so negatives are deterministic.
    extra = jnp.stack([
        net.apply(variables, z_tmpl, jnp.roll(x_feat, -k, axis=0),
                  method=model_lib.SiamFC.score)
        for k in range(1, in_batch + 1)], axis=1)
  return score, stats, extra


def training_loss(score: jax.Array, extra: jax.Array | None,
                  label_map: np.ndarray, weight_map: np.ndarray,
                  loss: LossSpec) -> jax.Array:
  """The loss `loss` asks for, on [B, n, n] maps and [B, K, n, n] extra
  negative maps (or None); [] float32."""
  score = score.astype(jnp.float32)
  if loss.plain:
    return losses.balanced_logistic_loss(score, label_map, weight_map)
  pos, neg = losses.split_instances(score, label_map)
  if extra is not None:
    neg = jnp.concatenate(
        [neg, extra.astype(jnp.float32).reshape(extra.shape[0], -1)], axis=1)
  if loss.topk:
    neg = losses.hardest(neg, loss.topk)
  if loss.kind == "logistic":
    return losses.logistic_loss(pos, neg)
  if loss.kind == "triplet":
    return losses.triplet_loss(pos, neg)
  return (losses.logistic_loss(pos, neg)
          + loss.triplet_weight * losses.triplet_loss(pos, neg))


def train_step(state: TrainState, batch: dict[str, jax.Array], *,
               spec: embedding.ModelSpec,
               optimizer: optax.GradientTransformation,
               label_map: np.ndarray, weight_map: np.ndarray,
               schedule: optax.Schedule, loss: LossSpec = LossSpec(),
               frozen: tuple[str, ...] = (), dtype=jnp.float32
               ) -> tuple[TrainState, dict]:
  """One SGD step on a batch of positive pairs.

  Args:
    state: the training state.
    batch: `z` [B, Sz, Sz, 3] and `x` [B, Sx, Sx, 3] uint8 (or float32)
      images in [0, 255].
    spec: the network (static).
    optimizer: from `make_optimizer`.
    label_map: [n, n] float32 labels (Eq. 6) of the training score map.
    weight_map: [n, n] float32 class-balancing weights.
    schedule: the learning-rate schedule (for logging).
    loss: the loss and its negatives (`LossSpec`).
    frozen: layers whose BN running moments stay (`frozen_layer`; the
      optimiser zeroes their updates).
    dtype: compute dtype of the embedding's convolutions.

  Returns:
    (new state, metrics: `loss`, `lr`, `peak_error` (mean, input px)).
  """

  def loss_fn(params):
    variables = {"params": params, "batch_stats": state.batch_stats}
    score, stats, extra = _forward(spec, variables, batch, True, dtype,
                                   loss.in_batch)
    return training_loss(score, extra, label_map, weight_map, loss), (
        score, stats)

  (loss, (score, stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
      state.params)
  updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
  if frozen:  # frozen layers keep their running moments
    stats = jax.tree_util.tree_map_with_path(
        lambda path, old, value: old if frozen_layer(
            tuple(k.key for k in path)[:-1] + ("scale",), frozen) else value,
        state.batch_stats, stats)
  new = state.replace(step=state.step + 1,
                      params=optax.apply_updates(state.params, updates),
                      batch_stats=stats, opt_state=opt_state)
  return new, {"loss": loss, "lr": schedule(state.step),
               "peak_error": jnp.mean(peak_error(score, spec.total_stride))}


def eval_step(state: TrainState, batch: dict[str, jax.Array], *,
              spec: embedding.ModelSpec, label_map: np.ndarray,
              weight_map: np.ndarray) -> dict:
  """Balanced logistic loss (`loss`, whatever the training loss), the
  triplet loss and the peak error on a batch, BN in inference mode."""
  score, _, _ = _forward(spec, state.variables, batch, train=False)
  return {"loss": losses.balanced_logistic_loss(score, label_map, weight_map),
          "triplet": losses.triplet_loss(*losses.split_instances(score,
                                                                 label_map)),
          "peak_error": jnp.mean(peak_error(score, spec.total_stride))}


@dataclasses.dataclass(frozen=True)
class Steps:
  """The jitted, sharded steps and what they need to feed them."""

  train: Callable[[TrainState, dict], tuple[TrainState, dict]]
  eval: Callable[[TrainState, dict], dict]
  put_batch: Callable[[dict], dict]
  put_state: Callable[[TrainState], TrainState]


def make_steps(spec: embedding.ModelSpec,
               optimizer: optax.GradientTransformation,
               schedule: optax.Schedule, score_size: int, label_radius: float,
               mesh: Mesh, loss: LossSpec = LossSpec(),
               frozen: tuple[str, ...] = (),
               compute_dtype: str = "float32") -> Steps:
  """Jits the steps over `mesh`: batch sharded on `data`, state replicated.

  Args:
    spec: the network.
    optimizer: from `make_optimizer`.
    schedule: learning-rate schedule.
    score_size: side of the training score map (15 for 127/239 crops).
    label_radius: R of Eq. 6 in input pixels.
    mesh: a mesh with one axis named `data`.
    loss: the training loss (`LossSpec`).
    frozen: frozen layers (their BN moments stay; see `make_optimizer`).
    compute_dtype: "float32" or "bfloat16" (the embedding's convolutions).
  """
  if compute_dtype not in COMPUTE_DTYPES:
    raise ValueError(f"config.compute_dtype must be one of "
                     f"{tuple(COMPUTE_DTYPES)}, got {compute_dtype!r}")
  label_map, weight_map = labels_lib.make_labels(score_size, label_radius,
                                                 spec.total_stride)
  replicated = NamedSharding(mesh, P())
  sharded = NamedSharding(mesh, P("data"))
  common = dict(spec=spec, label_map=label_map, weight_map=weight_map)
  train = jax.jit(
      functools.partial(train_step, optimizer=optimizer, schedule=schedule,
                        loss=loss, frozen=tuple(frozen),
                        dtype=COMPUTE_DTYPES[compute_dtype], **common),
      in_shardings=(replicated, sharded),
      out_shardings=(replicated, replicated),
      donate_argnums=0)
  evaluate = jax.jit(functools.partial(eval_step, **common),
                     in_shardings=(replicated, sharded),
                     out_shardings=replicated)
  n = mesh.devices.size

  def put_batch(batch):
    local = batch["z"].shape[0]
    if (local * jax.process_count()) % n:
      raise ValueError(f"batch size {local * jax.process_count()} is not a "
                       f"multiple of the {n} devices")
    return {k: jax.make_array_from_process_local_data(sharded, v)
            for k, v in batch.items()}

  def put_state(state):
    # Through the host: under jax.distributed a process may only place its
    # own copies (a device-to-device put would cross hosts).
    return jax.device_put(jax.device_get(state), replicated)

  return Steps(train, evaluate, put_batch, put_state)


def training_score_size(spec: embedding.ModelSpec, exemplar_size: int,
                        instance_size: int) -> int:
  """Side of the training score map (15 for SiamFC with 127 / 239 crops,
  33 for CFNet with 255 / 255)."""
  size = spec.output_size(instance_size) - spec.template_size(exemplar_size) + 1
  if spec.template_size(exemplar_size) < 1 or size < 1:
    raise ValueError(f"crops {exemplar_size} / {instance_size} are too small "
                     f"for this network (receptive field "
                     f"{model_lib.receptive_field(spec)} px)")
  return size


def model_spec(config: ml_collections.ConfigDict) -> embedding.ModelSpec:
  """The network a config describes (`config.model`): `arch` "alexnet"
  (SiamFC, Table 1) or one of `embedding.CFNET_VARIANTS`."""
  arch = config.model.get("arch", "alexnet")
  if arch == "alexnet":
    return embedding.alexnet_spec(width=config.model.width,
                                  batch_norm=config.model.batch_norm)
  spec = embedding.cfnet_spec(arch, width=config.model.width)
  if spec.join == "cf":
    spec = dataclasses.replace(
        spec, **{k: config.model[k] for k in ("cf_lambda", "cf_sigma",
                                              "cf_margin")
                 if k in config.model})
  return spec


def steps_from_config(config: ml_collections.ConfigDict,
                      spec: embedding.ModelSpec, steps_per_epoch: int,
                      mesh: Mesh) -> tuple[optax.GradientTransformation,
                                           Steps]:
  """The optimiser and jitted steps a training config asks for."""
  schedule = lr_schedule(config.lr_start, config.lr_end,
                         config.get("lr_epochs") or config.num_epochs,
                         steps_per_epoch)
  frozen = frozen_layers(config)
  check_frozen(spec, frozen)
  optimizer = make_optimizer(schedule, config.momentum, config.weight_decay,
                             param_groups(spec), frozen)
  score_size = training_score_size(spec, config.exemplar_size,
                                   config.instance_size)
  return optimizer, make_steps(spec, optimizer, schedule, score_size,
                               config.label_radius, mesh, loss_spec(config),
                               frozen, config.get("compute_dtype", "float32"))


def loss_spec(config: ml_collections.ConfigDict) -> LossSpec:
  """The `LossSpec` of a config (fields absent from older configs: off)."""
  return LossSpec(config.get("loss", "logistic"),
                  float(config.get("triplet_weight", 1.0)),
                  int(config.get("hard_negatives_topk", 0)),
                  int(config.get("in_batch_negatives", 0)))


def frozen_layers(config: ml_collections.ConfigDict) -> tuple[str, ...]:
  """`config.freeze` ("conv1,conv2") as a tuple of layer names."""
  return tuple(n.strip() for n in config.get("freeze", "").split(",")
               if n.strip())


def initial_network(config: ml_collections.ConfigDict
                    ) -> tuple[embedding.ModelSpec, model_lib.Variables | None]:
  """The network training starts from: `config.init_from` or a fresh one.

  `init_from`: "" (a fresh `model_spec(config)`, variables None), "pretrained"
  (the bundled original), a checkpoint directory or a training workdir (its
  `tracker/`), or a weights file (.mat, .pth, .npz: `convert.load`).

  Raises:
    FileNotFoundError: `init_from` names nothing that exists.
    ValueError: the importers' errors.
  """
  source = config.get("init_from", "")
  if not source:
    return model_spec(config), None
  if source == "pretrained":
    return pretrained.network()
  path = pathlib.Path(source)
  if path.is_file():
    spec, variables, _ = convert.load(path)
    return spec, variables
  if path.is_dir():
    if not (path / checkpoints.META_FILE).is_file() and (
        path / "tracker").is_dir():
      path = path / "tracker"
    spec, variables, _ = checkpoints.load(path)
    return spec, variables
  raise FileNotFoundError(f"config.init_from: {source} is neither "
                          "'pretrained', a checkpoint directory nor a "
                          "weights file")


def _make_data(config: ml_collections.ConfigDict, split: str,
               batch_size: int):
  """This host's pair stream of a split (an iterator with get_state and
  set_state), `batch_size` pairs of every global batch; its state is the
  same on every host."""
  data = config.data
  host, hosts = jax.process_index(), jax.process_count()
  if data.kind == "synthetic":
    return synthetic.PairStream(
        config.seed + (0 if split == "train" else 1_000_003),
        batch_size, config.exemplar_size, config.instance_size,
        max_shift=data.max_shift if split == "train" else 0,
        shard=(host, hosts))
  return pairs.pair_iterator_from_config(config, split, config.seed,
                                         batch_size, shard=(host, hosts))


_POSITIVE_FIELDS = ("batch_size", "num_epochs", "val_batches",
                    "log_every_steps", "checkpoint_every_steps")


def check_config(config: ml_collections.ConfigDict) -> None:
  """Raises ValueError naming a config value that cannot train."""
  for name in _POSITIVE_FIELDS:
    if config[name] < 1:
      raise ValueError(f"config.{name} must be >= 1, got {config[name]}")
  if config.pairs_per_epoch < config.batch_size:
    raise ValueError(f"config.pairs_per_epoch {config.pairs_per_epoch} < "
                     f"config.batch_size {config.batch_size}: no step")
  if config.batch_size % jax.process_count():
    raise ValueError(f"config.batch_size {config.batch_size} does not split "
                     f"over {jax.process_count()} hosts")
  loss_spec(config)  # raises on an unknown loss or negative counts
  if config.get("in_batch_negatives", 0) >= config.batch_size:
    raise ValueError(f"config.in_batch_negatives "
                     f"{config.in_batch_negatives} must be < "
                     f"config.batch_size {config.batch_size}")
  if config.data.get("same_class_batches", False):
    if config.get("in_batch_negatives", 0) < 1:
      raise ValueError("config.data.same_class_batches needs "
                       "config.in_batch_negatives > 0: only in-batch "
                       "negatives meet the other pairs of a batch")
    if config.data.kind == "synthetic":
      raise ValueError("config.data.same_class_batches needs data with "
                       "object classes (vid, got10k), not synthetic pairs")
  dtype = config.get("compute_dtype", "float32")
  if dtype not in COMPUTE_DTYPES:
    raise ValueError(f"config.compute_dtype must be one of "
                     f"{tuple(COMPUTE_DTYPES)}, got {dtype!r}")


class _Writer:
  """Scalars to TensorBoard event files (tensorboardX) and the console."""

  def __init__(self, workdir: pathlib.Path, enabled: bool):
    self._tb = None
    if enabled:
      from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
      self._tb = SummaryWriter(str(workdir / "tensorboard"))

  def write(self, step: int, scalars: dict[str, float], prefix: str) -> None:
    if self._tb is not None:
      for name, value in scalars.items():
        self._tb.add_scalar(f"{prefix}/{name}", value, step)
      self._tb.flush()
    text = "  ".join(f"{k} {v:.4g}" for k, v in scalars.items())
    print(f"[{prefix}] step {step}: {text}", flush=True)

  def close(self):
    if self._tb is not None:
      self._tb.close()


def train_and_evaluate(config: ml_collections.ConfigDict,
                       workdir: str | os.PathLike,
                       mesh: Mesh | None = None) -> dict[str, Any]:
  """Trains SiamFC as `config` says, resuming from `workdir` if possible.

  Args:
    config: a config of `experiments/configs/` (see `vid.py` for the fields).
    workdir: checkpoints (`checkpoints/`), TensorBoard logs (`tensorboard/`),
      the config (`config.json`) and the final tracker (`tracker/`).
    mesh: devices to train on (default: all, axis `data`).

  Returns:
    {"state": final TrainState, "history": list of logged train metrics,
    "validation": list of validation metrics}.

  Raises:
    ValueError: a config value that cannot train (`check_config`, before
      anything is written), or data that cannot be read (naming it).
  """
  check_config(config)
  workdir = pathlib.Path(workdir).absolute()
  workdir.mkdir(parents=True, exist_ok=True)
  mesh = mesh or Mesh(np.array(jax.devices()), ("data",))
  spec, init_variables = initial_network(config)
  steps_per_epoch = config.pairs_per_epoch // config.batch_size
  total_steps = steps_per_epoch * config.num_epochs
  optimizer, steps = steps_from_config(config, spec, steps_per_epoch, mesh)
  (workdir / "config.json").write_text(config.to_json_best_effort(indent=2))

  # Each host reads its own share of every global batch.
  local_batch = config.batch_size // jax.process_count()
  train_data = _make_data(config, "train", local_batch)
  state = create_train_state(spec, jax.random.key(config.seed), optimizer,
                             init_variables)
  manager = ocp.CheckpointManager(
      workdir / "checkpoints",
      options=ocp.CheckpointManagerOptions(max_to_keep=config.keep_checkpoints,
                                           create=True))
  if manager.latest_step() is not None:
    restored = manager.restore(manager.latest_step(), args=ocp.args.Composite(
        state=ocp.args.StandardRestore(state),
        data=ocp.args.JsonRestore()))
    state = restored["state"]
    train_data.set_state(restored["data"])
    print(f"Resumed from step {int(state.step)} in {workdir}", flush=True)
  state = steps.put_state(state)

  writer = _Writer(workdir, config.tensorboard)
  history, validation = [], []
  tracked = TrackValidation(config, spec, workdir)
  stop = min(total_steps, config.stop_after_steps or total_steps)
  step = int(state.step)
  if step == 0:  # the untrained network, for comparison
    val = validate(steps, state, config, local_batch)
    validation.append({"step": 0, **val})
    writer.write(0, val, "validation")
    tracked.run(0, state, writer)
  try:
    state, step = _train_loop(state, step, stop, steps, train_data, config,
                              steps_per_epoch, writer, manager, history,
                              validation, local_batch, tracked)
  finally:
    _close(train_data)
  manager.wait_until_finished()
  writer.close()
  if step == total_steps and jax.process_index() == 0:
    export_tracker(workdir / "tracker", spec, jax.device_get(state), config)
  return {"state": state, "history": history, "validation": validation,
          "tracking": tracked.history}


def _train_loop(state, step, stop, steps, train_data, config, steps_per_epoch,
                writer, manager, history, validation, local_batch, tracked):
  """Steps from `step` to `stop`, logging, validating and saving."""
  tick, ticked = time.perf_counter(), step

  def save():
    manager.save(step, args=ocp.args.Composite(
        state=ocp.args.StandardSave(state),
        data=ocp.args.JsonSave(train_data.get_state())), force=True)

  while step < stop:
    state, metrics = steps.train(state, steps.put_batch(next(train_data)))
    step += 1
    if step % config.log_every_steps == 0 or step == stop:
      metrics = {k: float(v) for k, v in jax.device_get(metrics).items()}
      seconds = time.perf_counter() - tick
      metrics["steps_per_s"] = (step - ticked) / seconds
      metrics["pairs_per_s"] = metrics["steps_per_s"] * config.batch_size
      tick, ticked = time.perf_counter(), step
      history.append({"step": step, **metrics})
      writer.write(step, metrics, "train")
    if step % steps_per_epoch == 0 or step == stop:
      val = validate(steps, state, config, local_batch)
      validation.append({"step": step, **val})
      writer.write(step, val, "validation")
    if tracked.due(step, steps_per_epoch, stop):
      tracked.run(step, state, writer)
    if step % config.checkpoint_every_steps == 0 or step == stop:
      save()
  return state, step


def _close(data) -> None:
  """Stops a pair stream's workers, if it has any."""
  close = getattr(data, "close", None)
  if close:
    close()


def validate(steps: Steps, state: TrainState,
             config: ml_collections.ConfigDict, batch_size: int) -> dict:
  """Mean loss and peak error over `config.val_batches` held-out batches."""
  data = _make_data(config, "validation", batch_size)
  try:
    results = [steps.eval(state, steps.put_batch(next(data)))
               for _ in range(config.val_batches)]
  finally:
    _close(data)
  return {k: float(np.mean([r[k] for r in results])) for k in results[0]}


def track_params(config: ml_collections.ConfigDict) -> tracking.TrackParams:
  """The tracking hyper-parameters a training config saves (`config.track`,
  else SiamFC-3s)."""
  return tracking.TrackParams(**config.track.to_dict()) if "track" in config \
      else tracking.SIAMFC_3S


def export_tracker(directory: pathlib.Path, spec: embedding.ModelSpec,
                   state: TrainState, config: ml_collections.ConfigDict,
                   extra: dict | None = None) -> None:
  """Writes the trained network as a checkpoint `Tracker.from_checkpoint`
  loads, with the config and the tracking hyper-parameters beside it (and
  `extra` settings, e.g. the tracking validation scores of `best/`)."""
  checkpoints.save(directory, spec, jax.device_get(state.variables),
                   config={"train": json.loads(config.to_json_best_effort()),
                           "track": track_params(config).to_dict(),
                           **(extra or {})},
                   overwrite=True)


def track_sequences(spec: embedding.ModelSpec, variables: model_lib.Variables,
                    params: tracking.TrackParams, sequences_: list,
                    max_frames: int = 0) -> dict[str, float]:
  """OTB one-pass scores of a network on sequences (validation by tracking).

  Args:
    spec, variables: the network.
    params: tracking hyper-parameters.
    sequences_: `data.sequences.Sequence`s (first box: the target).
    max_frames: frames tracked per sequence from the first (0: all).

  Returns:
    {"auc": success AUC, "precision": precision at 20 px} of the mean
    curves over the sequences (`evaluation.metrics.otb_report`).
  """
  tracker = tracker_lib.Tracker(spec, variables, params, backend="jax")
  results = []
  for seq in sequences_:
    n = min(len(seq), max_frames) if max_frames else len(seq)
    boxes, _ = tracker.track(list(seq.frames[:n]), seq.boxes[0])
    results.append((boxes, seq.boxes[:n]))
  report = metrics_lib.otb_report(results)
  return {"auc": report["auc"], "precision": report["precision20"]}


class TrackValidation:
  """Validation by tracking (`config.track_val`) and the best checkpoint.

  Off when `config.track_val.root` is empty. Runs every
  `config.track_val_every_steps` steps (0: every epoch) and at the last
  step; writes `workdir/best` (a tracker checkpoint, its scores under
  `config["track_val"]`) when the success AUC beats every earlier one. A
  resumed run reads the best AUC so far back from `workdir/best`.
  """

  def __init__(self, config: ml_collections.ConfigDict,
               spec: embedding.ModelSpec, workdir: pathlib.Path):
    val = config.get("track_val") or {}
    self.root = val.get("root", "")
    self.config, self.spec, self.history = config, spec, []
    self.best_dir = workdir / "best"
    self.every = int(config.get("track_val_every_steps", 0))
    self.best_auc = -np.inf
    self.sequences = []
    if not self.root:
      return
    self.max_frames = int(val.get("max_frames", 0))
    self.sequences = sequences.read_dataset(self.root)
    self.params = track_params(config)
    if (self.best_dir / checkpoints.META_FILE).is_file():
      _, _, saved = checkpoints.load(self.best_dir)
      self.best_auc = float(saved["track_val"]["auc"])

  def due(self, step: int, steps_per_epoch: int, stop: int) -> bool:
    if not self.root:
      return False
    every = self.every or steps_per_epoch
    return step % every == 0 or step == stop

  def run(self, step: int, state: TrainState, writer: _Writer) -> None:
    """Tracks, logs `track_val/auc` and `/precision`, keeps the best."""
    if not self.root:
      return
    scores = track_sequences(self.spec, jax.device_get(state.variables),
                             self.params, self.sequences, self.max_frames)
    self.history.append({"step": step, **scores})
    writer.write(step, scores, "track_val")
    if scores["auc"] > self.best_auc and jax.process_index() == 0:
      self.best_auc = scores["auc"]
      export_tracker(self.best_dir, self.spec, state, self.config,
                     {"track_val": {"step": step, **scores}})
