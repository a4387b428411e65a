"""Tests of the training step, optimiser, sharding and the training loop."""

import jax
from jax.sharding import Mesh
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from siamfc_jax.configs import cfnet
from siamfc_jax.configs import finetune
from siamfc_jax.configs import tiny
from siamfc_jax import checkpoints
from siamfc_jax import labels as labels_lib
from siamfc_jax import losses
from siamfc_jax import model as model_lib
from siamfc_jax import tracker as tracker_lib
from siamfc_jax import training
from siamfc_jax.data import synthetic
from tests import fake_datasets


def _config(**overrides):
  config = tiny.get_config()
  with config.unlocked():
    config.update(overrides)
  return config


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("tiny_run")
  config = _config(pairs_per_epoch=240, log_every_steps=5)
  return workdir, training.train_and_evaluate(config, workdir)


def test_tiny_run_lowers_the_loss_and_finds_the_target(tiny_run):
  _, result = tiny_run
  losses = [h["loss"] for h in result["history"]]
  assert losses[-1] < 0.75 * losses[0], losses
  untrained, trained = result["validation"][0], result["validation"][-1]
  assert untrained["step"] == 0 and trained["step"] == 60
  assert trained["loss"] < 0.75 * untrained["loss"]
  assert trained["peak_error"] < untrained["peak_error"]


def test_trained_network_loads_as_a_tracker(tiny_run):
  workdir, result = tiny_run
  tracker = tracker_lib.Tracker.from_checkpoint(workdir)  # finds tracker/
  assert tracker.params.exemplar_size == 103
  np.testing.assert_array_equal(
      tracker.variables["params"]["embedding"]["conv1"]["kernel"],
      result["state"].params["embedding"]["conv1"]["kernel"])


@pytest.mark.parametrize("variant, stop", [("siamfc", 5), ("cfnet", 7)])
def test_resumed_run_ends_with_the_params_of_an_uninterrupted_run(
    tmp_path, variant, stop):
  config = tiny.get_config() if variant == "siamfc" else cfnet.get_config(
      "tiny")
  with config.unlocked():
    config.update(pairs_per_epoch=48, checkpoint_every_steps=1000,
                  val_batches=1)
  whole = training.train_and_evaluate(config, tmp_path / "whole")
  with config.unlocked():
    config.stop_after_steps = stop
  first = training.train_and_evaluate(config, tmp_path / "split")
  assert int(first["state"].step) == stop
  with config.unlocked():
    config.stop_after_steps = 0
  resumed = training.train_and_evaluate(config, tmp_path / "split")
  assert int(resumed["state"].step) == int(whole["state"].step) == 12
  jax.tree.map(np.testing.assert_array_equal, jax.device_get(whole["state"]),
               jax.device_get(resumed["state"]))


def test_data_parallel_step_on_4_devices_equals_1_device():
  assert jax.device_count() >= 4, "conftest fakes 4 CPU devices"
  config = _config()
  spec = training.model_spec(config)
  schedule = training.lr_schedule(0.1, 0.01, 2, 10)
  optimizer = training.make_optimizer(schedule)
  # On the host, so each mesh gets its own copy (the step donates it).
  state = jax.device_get(
      training.create_train_state(spec, jax.random.key(0), optimizer))
  batch = next(synthetic.PairStream(0, 8, 103, 151))
  results = []
  for devices in (jax.devices()[:1], jax.devices()[:4]):
    steps = training.make_steps(spec, optimizer, schedule, 7, 16.0,
                                Mesh(np.array(devices), ("data",)))
    new, metrics = steps.train(steps.put_state(state), steps.put_batch(batch))
    results.append((jax.device_get(new), jax.device_get(metrics)))
  (one, m1), (four, m4) = results
  # Same arithmetic, different reduction order across devices: float32
  # rounding only.
  np.testing.assert_allclose(m1["loss"], m4["loss"], rtol=1e-5)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4,
                                                       atol=1e-6),
               one.params, four.params)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4,
                                                       atol=1e-6),
               one.batch_stats, four.batch_stats)


def test_batch_not_divisible_by_devices_is_refused():
  config = _config()
  spec = training.model_spec(config)
  schedule = training.lr_schedule(0.1, 0.01, 2, 10)
  steps = training.make_steps(spec, training.make_optimizer(schedule),
                              schedule, 7, 16.0,
                              Mesh(np.array(jax.devices()[:4]), ("data",)))
  with pytest.raises(ValueError, match="multiple of the 4 devices"):
    steps.put_batch(next(synthetic.PairStream(0, 6, 103, 151)))


def test_learning_rate_is_logspace_per_epoch():
  schedule = training.lr_schedule(1e-2, 1e-5, 50, 100)
  want = np.logspace(-2, -5, 50)
  got = [float(schedule(e * 100 + 37)) for e in range(50)]
  np.testing.assert_allclose(got, want, rtol=1e-5)
  assert float(schedule(10**6)) == pytest.approx(1e-5, rel=1e-5)


def test_optimizer_applies_the_original_multipliers_and_decay():
  params = {"embedding": {"conv1": {"kernel": jnp.ones(2), "bias": jnp.ones(2)},
                          "bn1": {"scale": jnp.ones(2), "bias": jnp.ones(2)}},
            "adjust_scale": jnp.float32(1e-3), "adjust_bias": jnp.float32(1.0)}
  opt = training.make_optimizer(optax.constant_schedule(0.1), weight_decay=0.5)
  grads = jax.tree.map(jnp.ones_like, params)
  updates, _ = opt.update(grads, opt.init(params), params)
  e = updates["embedding"]
  # lr * mult * (g + wd * w): kernel 0.1*(1+0.5), bias 0.1*2*1, ...
  np.testing.assert_allclose(e["conv1"]["kernel"], -0.15)
  np.testing.assert_allclose(e["conv1"]["bias"], -0.2)
  np.testing.assert_allclose(e["bn1"]["scale"], -0.2)
  np.testing.assert_allclose(e["bn1"]["bias"], -0.1)
  assert float(updates["adjust_scale"]) == 0.0
  np.testing.assert_allclose(updates["adjust_bias"], -0.15)


def test_trains_on_a_folder_of_real_sequences(data_dir, tmp_path):
  root = tmp_path / "sequences"
  root.mkdir()
  for name in ("eco_Crossing", "lasith_Dudek", "vot15_bag"):
    src = data_dir / "sequences" / name
    if not src.is_dir():
      pytest.skip(f"{src} not found")
    (root / name).symlink_to(src)
  config = _config(pairs_per_epoch=16, num_epochs=1, val_batches=1)
  with config.unlocked():
    config.data.kind = "folder"
    config.data.dir = str(root)
    config.data.tfds_dir = str(tmp_path / "tfds")
    config.data.val_sequences = 1
    config.data.workers = 0
  result = training.train_and_evaluate(config, tmp_path / "run")
  assert int(result["state"].step) == 2
  assert all(np.isfinite(v["loss"]) for v in result["validation"])


@pytest.fixture(scope="module")
def tiny_cfnet_run(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("tiny_cfnet_run")
  return workdir, training.train_and_evaluate(cfnet.get_config("tiny"),
                                              workdir)


def test_tiny_cfnet_run_lowers_the_loss_and_finds_the_target(tiny_cfnet_run):
  _, result = tiny_cfnet_run
  losses = [h["loss"] for h in result["history"]]
  assert losses[-1] < 0.75 * losses[0], losses
  untrained, trained = result["validation"][0], result["validation"][-1]
  assert trained["loss"] < 0.75 * untrained["loss"]
  assert trained["peak_error"] < untrained["peak_error"]
  # CFNet learns its final affine layer (gain init 1, bias -0.5).
  params = result["state"].params
  assert float(params["adjust_scale"]) != 1.0
  assert float(params["adjust_bias"]) != -0.5


def test_trained_cfnet_loads_as_a_cfnet_tracker(tiny_cfnet_run):
  workdir, _ = tiny_cfnet_run
  tracker = tracker_lib.Tracker.from_checkpoint(workdir, backend="jax")
  assert tracker.spec.join == "cf" and tracker.spec.cf_margin == 3
  assert tracker.params.z_lr == 0.005 and tracker.params.raw_scores
  frames = np.random.default_rng(0).integers(0, 255, (3, 80, 100, 3),
                                             dtype=np.uint8)
  boxes, _ = tracker.track(list(frames), [40, 30, 20, 20])
  assert boxes.shape == (3, 4) and np.all(np.isfinite(boxes))


def test_learning_rate_stays_at_its_end_after_the_annealed_epochs():
  # CFNet: logspace(-2, -4) over 50 epochs, then 1e-4 up to epoch 100.
  schedule = training.lr_schedule(1e-2, 1e-4, 50, 10)
  np.testing.assert_allclose(schedule(0), 1e-2, rtol=1e-6)
  np.testing.assert_allclose(schedule(49 * 10), 1e-4, rtol=1e-5)
  np.testing.assert_allclose(schedule(99 * 10 + 9), 1e-4, rtol=1e-5)


@pytest.mark.parametrize("field, value, match", [
    ("pairs_per_epoch", 3, "pairs_per_epoch 3 < config.batch_size"),
    ("val_batches", 0, "val_batches must be >= 1"),
    ("log_every_steps", 0, "log_every_steps must be >= 1"),
    ("checkpoint_every_steps", 0, "checkpoint_every_steps must be >= 1"),
])
def test_configs_that_cannot_train_are_refused_before_anything_runs(
    tmp_path, field, value, match):
  config = tiny.get_config()
  config[field] = value
  with pytest.raises(ValueError, match=match):
    training.train_and_evaluate(config, tmp_path / "run")
  assert not (tmp_path / "run").exists()


def test_bfloat16_loss_is_close_to_float32_on_the_same_batch():
  config = _config(loss="logistic+triplet", in_batch_negatives=2)
  spec = training.model_spec(config)
  state = training.create_train_state(spec, jax.random.key(0),
                                      optax.identity())
  batch = next(synthetic.PairStream(3, 8, 103, 151))
  label_map, weight_map = labels_lib.make_labels(7)
  spec_loss = training.loss_spec(config)

  @jax.jit
  def both(variables):
    out = []
    for dtype in (jnp.float32, jnp.bfloat16):
      score, _, extra = training._forward(  # pylint: disable=protected-access
          spec, variables, batch, True, dtype, spec_loss.in_batch)
      out.append(training.training_loss(score, extra, label_map,
                                        weight_map, spec_loss))
    return out

  f32, bf16 = both(state.variables)
  assert np.isfinite(bf16)
  # bfloat16 keeps 8 bits of mantissa: products err by ~0.4 %, sums stay
  # float32, so the loss of the same batch agrees to 1 %.
  np.testing.assert_allclose(bf16, f32, rtol=1e-2)


def test_unknown_frozen_layer_and_bad_options_are_refused(tmp_path):
  for overrides, match in [(dict(freeze="conv9"), "no layer 'conv9'"),
                           (dict(loss="hinge"), "config.loss"),
                           (dict(in_batch_negatives=8), "in_batch_negatives"),
                           (dict(compute_dtype="float16"), "compute_dtype")]:
    with pytest.raises(ValueError, match=match):
      training.train_and_evaluate(_config(**overrides), tmp_path / "run")


def test_same_class_batches_are_refused_where_they_would_do_nothing():
  config = _config(in_batch_negatives=0)
  config.data.same_class_batches = True
  # Without in-batch negatives no exemplar meets the batch's other pairs.
  with pytest.raises(ValueError, match="same_class_batches needs "
                     "config.in_batch_negatives > 0"):
    training.check_config(config)
  config.in_batch_negatives = 2
  with pytest.raises(ValueError, match="not synthetic pairs"):
    training.check_config(config)
  config.data.kind = "got10k"
  training.check_config(config)
  config.data.same_class_batches = False
  config.in_batch_negatives = 0
  training.check_config(config)


def test_init_from_pretrained_reproduces_the_bundled_networks_scores():
  config = _config(init_from="pretrained")
  spec, variables = training.initial_network(config)
  state = training.create_train_state(
      spec, jax.random.key(0), training.make_optimizer(
          optax.constant_schedule(0.1)), variables)
  rng = np.random.default_rng(0)
  batch = {"z": rng.integers(0, 256, (1, 127, 127, 3), np.uint8),
           "x": rng.integers(0, 256, (1, 239, 239, 3), np.uint8)}
  label_map, weight_map = labels_lib.make_labels(15)
  ours = training.eval_step(state, batch, spec=spec, label_map=label_map,
                            weight_map=weight_map)
  tracker = tracker_lib.Tracker.pretrained(backend="jax")
  z = model_lib.template(tracker.spec, tracker.variables,
                         batch["z"].astype(np.float32))
  x = model_lib.embed(tracker.spec, tracker.variables,
                      batch["x"].astype(np.float32))
  score = model_lib.score(tracker.spec, tracker.variables, z, x)
  want = losses.balanced_logistic_loss(score, label_map, weight_map)
  assert float(ours["loss"]) == float(want)
  np.testing.assert_array_equal(
      state.params["embedding"]["conv1"]["kernel"],
      tracker.variables["params"]["embedding"]["conv1"]["kernel"])


def _losses_from_pretrained(freeze, steps=4):
  """Training losses of `steps` finetune.py steps on one synthetic batch."""
  config = finetune.get_config()
  with config.unlocked():
    config.freeze = freeze
  spec, variables = training.initial_network(config)
  mesh = Mesh(np.array(jax.devices()[:1]), ("data",))
  optimizer, steps_ = training.steps_from_config(config, spec, 100, mesh)
  state = steps_.put_state(training.create_train_state(
      spec, jax.random.key(0), optimizer, variables))
  batch = steps_.put_batch(next(synthetic.PairStream(0, 4, 127, 239)))
  out = []
  for _ in range(steps):
    state, metrics = steps_.train(state, batch)
    out.append(float(metrics["loss"]))
  return out


def test_finetune_config_trains_the_bundled_network_without_diverging():
  # Its folded BN leaves conv1 untrainable at 1e-4 (finetune.py): frozen by
  # default, the loss falls; trained whole, it grows from the first step.
  frozen = _losses_from_pretrained(finetune.get_config().freeze)
  assert all(np.isfinite(frozen)) and frozen[-1] < frozen[0]
  whole = _losses_from_pretrained("")
  assert whole[-1] > 2 * whole[0]


def test_resumed_run_with_every_new_option_is_bit_exact(tmp_path):
  # Fine-tuned from a checkpoint, frozen conv1, triplet + logistic loss,
  # in-batch and mined negatives, bfloat16, validation by tracking.
  start = tmp_path / "start"
  spec = training.model_spec(_config())
  checkpoints.save(start, spec, model_lib.init(spec, jax.random.key(7)))
  fake_datasets.write_otb(tmp_path / "val", {"a": 6})
  config = _config(pairs_per_epoch=32, checkpoint_every_steps=1000,
                   val_batches=1, init_from=str(start), freeze="conv1",
                   loss="logistic+triplet", triplet_weight=0.5,
                   in_batch_negatives=2, hard_negatives_topk=30,
                   compute_dtype="bfloat16", track_val_every_steps=3)
  with config.unlocked():
    config.track_val.root = str(tmp_path / "val")
    config.track_val.max_frames = 4
  whole = training.train_and_evaluate(config, tmp_path / "whole")
  with config.unlocked():
    config.stop_after_steps = 5
  training.train_and_evaluate(config, tmp_path / "split")
  with config.unlocked():
    config.stop_after_steps = 0
  resumed = training.train_and_evaluate(config, tmp_path / "split")
  assert int(resumed["state"].step) == int(whole["state"].step) == 8
  jax.tree.map(np.testing.assert_array_equal, jax.device_get(whole["state"]),
               jax.device_get(resumed["state"]))
  # Tracked at 0, 3, 6, 8 (the end), the resumed half at 6 and 8.
  assert [t["step"] for t in whole["tracking"]] == [0, 3, 6, 8]
  assert whole["tracking"][2:] == resumed["tracking"]
  assert all(0 <= t["auc"] <= 1 for t in whole["tracking"])
  best = max(whole["tracking"], key=lambda t: t["auc"])
  for run in ("whole", "split"):
    tracker = tracker_lib.Tracker.from_checkpoint(tmp_path / run,
                                                  backend="jax", which="best")
    _, _, saved = checkpoints.load(tmp_path / run / "best")
    assert saved["track_val"]["step"] == best["step"]
    assert tracker.spec == spec
  # conv1 (and its BN) frozen: as loaded after 8 steps; conv2 trained.
  init = checkpoints.load(start)[1]
  state = jax.device_get(whole["state"])
  for part in ("conv1", "bn1"):
    jax.tree.map(np.testing.assert_array_equal,
                 init["params"]["embedding"][part],
                 state.params["embedding"][part])
  jax.tree.map(np.testing.assert_array_equal,
               init["batch_stats"]["embedding"]["bn1"],
               state.batch_stats["embedding"]["bn1"])
  assert not np.array_equal(init["params"]["embedding"]["conv2"]["kernel"],
                            state.params["embedding"]["conv2"]["kernel"])
  assert all(np.isfinite(h["loss"]) for h in whole["history"])
