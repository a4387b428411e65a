"""Tests of the weight importers (siamfc_jax/convert) on the real files."""

import collections
import os
import pathlib
import pickle
import re
import subprocess
import sys
import zipfile

import jax.numpy as jnp
import numpy as np
from PIL import Image
import pytest
import scipy.io

from siamfc_jax import checkpoints
from siamfc_jax import crop
from siamfc_jax import embedding
from siamfc_jax import model
from siamfc_jax.convert import common
from siamfc_jax.convert import int8_npz
from siamfc_jax.convert import matconvnet
from siamfc_jax.convert import pytorch
from tests import references

REPO = pathlib.Path(__file__).resolve().parents[1]
INT8 = "weights/siamfc_2016-08-17_int8/siamfc_int8_exact.npz"
CFNET = "weights/cfnet"
FDSIAMFC = "weights/fdsiamfc"

# A tiny net in the official naming: BN with and without conv bias, 2
# groups, pool strides 2 and 1, a plain last layer.
TINY = embedding.ModelSpec(layers=(
    embedding.ConvSpec(8, 5, stride=2, pool_stride=2),
    embedding.ConvSpec(6, 3, groups=2, use_bias=True, pool_stride=1),
    embedding.ConvSpec(4, 3, groups=2, batch_norm=False, use_bias=True,
                       relu=False),
))


def _random_variables(spec, seed=0):
  """Random float32 variables in the tree of `model.init(spec)`.

  Built from the abstract tree: running the real `model.init` compiles,
  which costs seconds per spec on two cores.
  """
  rng = np.random.default_rng(seed)
  variables = {}
  for name, (shape, _) in sorted(common.expected_shapes(spec).items()):
    value = rng.standard_normal(shape).astype(np.float32)
    if name.endswith("/var"):
      value = np.abs(value) + np.float32(0.1)
    node = variables
    *parents, leaf = name.split("/")
    for key in parents:
      node = node.setdefault(key, {})
    node[leaf] = jnp.asarray(value)
  return variables


def _leaves(variables):
  return {k: np.asarray(v) for k, v in common.flatten(variables).items()}


# ------------------------------------------------- the original (int8) net --


def test_int8_network_reproduces_the_original_matlab_embedding(data_dir):
  spec, variables = int8_npz.load_int8_npz(data_dir / INT8)
  folder = data_dir / "weights/siamfc_original_features"
  image = np.asarray(Image.open(folder / "01.jpg").convert("RGB"),
                     np.float32)  # [360, 480, 3] in [0, 255]
  # r.z_features is [H, W, C] = [35, 50, 256] for the 360x480 image.
  want = scipy.io.loadmat(folder / "result.mat")["r"][0, 0]["z_features"]
  got = np.asarray(model.embed(spec, variables, image[None]))[0]
  assert got.shape == want.shape == (35, 50, 256)
  corr = np.corrcoef(got.ravel(), want.ravel())[0, 1]
  rms = np.sqrt(np.mean((got - want) ** 2))
  # int8 weights vs MATLAB's float net: measured 0.999841 / 0.01444.
  assert corr >= 0.9998 and rms <= 0.02, (corr, rms)


def test_int8_network_has_the_papers_layers_and_adjust(data_dir):
  spec, variables = int8_npz.load_int8_npz(data_dir / INT8)
  paper = embedding.alexnet_spec(batch_norm=False)
  assert spec.layers == paper.layers
  assert "batch_stats" not in variables
  assert float(variables["params"]["adjust_scale"]) == np.float32(0.001)
  # The bias of the export's cross_correlation_scale3.tflite.
  assert float(variables["params"]["adjust_bias"]) == np.float32(-2.1483638)


def test_int8_weights_are_dequantised_per_output_channel(data_dir):
  raw = np.load(data_dir / INT8)
  _, variables = int8_npz.load_int8_npz(data_dir / INT8)
  conv4 = variables["params"]["embedding"]["conv4"]
  # Group 2 of conv4 is output channels 192..383, OHWI -> HWIO.
  want = raw["conv4_b2_w_q"] * raw["conv4_b2_w_scale"][:, None, None, None]
  np.testing.assert_array_equal(conv4["kernel"][..., 192:],
                                want.astype(np.float32).transpose(1, 2, 3, 0))
  np.testing.assert_array_equal(
      conv4["bias"][:192],
      (raw["conv4_b1_b_q"] * raw["conv4_b1_b_scale"]).astype(np.float32))


def _edited_npz(data_dir, tmp_path, edit):
  arrays = dict(np.load(data_dir / INT8))
  edit(arrays)
  path = tmp_path / "edited.npz"
  np.savez(path, **arrays)
  return path


@pytest.mark.parametrize("edit, words", [
    (lambda a: a.update(conv3_w_scale=a["conv3_w_scale"][:-1]),
     ["conv3_w_scale", "shape"]),
    (lambda a: [a.pop(k) for k in list(a) if k.startswith("conv4_b2")],
     ["missing", "conv4_b2_w_q", "conv4_b2_b_scale"]),
    (lambda a: a["conv1_b_scale"].__setitem__(0, np.nan),
     ["conv1_b_scale", "NaN"]),
    (lambda a: a.update(conv6_w_q=a["conv5_b1_w_q"], extra=np.zeros(3)),
     ["unexpected", "conv6_w_q", "extra"]),
    (lambda a: a.update(conv4_b2_w_q=a["conv4_b2_w_q"][:, :, :, :96]),
     ["conv4_b2_w_q", "shape"]),
])
def test_int8_npz_errors_name_the_parameter(data_dir, tmp_path, edit, words):
  path = _edited_npz(data_dir, tmp_path, edit)
  with pytest.raises(ValueError) as error:
    int8_npz.load_int8_npz(path)
  for word in [str(path)] + words:
    assert word in str(error.value)


# -------------------------------------------------------- MatConvNet .mat --


def _crop(data_dir, side=63):
  """A side x side crop centred on the bag in VOT2015 bag, frame 1."""
  folder = data_dir / "sequences/vot15_bag"
  frame = np.asarray(Image.open(folder / "img/00000001.jpg").convert("RGB"),
                     np.float32)
  polygon = np.loadtxt(folder / "groundtruth.txt", delimiter=",")[0]
  cx, cy = (int(round(v)) for v in polygon.reshape(4, 2).mean(axis=0))
  top, left = cy - side // 2, cx - side // 2
  return frame[top:top + side, left:left + side]


def test_mat_conv1_conv2_match_a_numpy_forward_on_a_real_crop(data_dir):
  path = data_dir / CFNET / "baseline-conv3-on-cfnet-conv3_e100.mat"
  spec, variables, _ = matconvnet.load_mat(path)
  image = _crop(data_dir)

  raw = {p["name"][0]: p["value"] for p in
         scipy.io.loadmat(path)["net"][0, 0]["params"][0]}
  x = image.astype(np.float64)
  for i, (stride, groups, pool) in enumerate([(2, 1, 2), (1, 2, 1)], 1):
    x = references.conv2d_brute_force(
        x, raw[f"br_conv{i}f"], raw[f"br_conv{i}b"].ravel(), stride, groups)
    x = references.matconvnet_bnorm_test(
        x, raw[f"br_bn{i}m"], raw[f"br_bn{i}b"], raw[f"br_bn{i}x"])
    x = references.max_pool3_brute_force(np.maximum(x, 0), pool)

  two = embedding.ModelSpec(spec.layers[:2], spec.bn_epsilon)
  emb, stats = variables["params"]["embedding"], variables["batch_stats"]
  keep = ("conv1", "conv2", "bn1", "bn2")
  sub = {"params": {**variables["params"],
                    "embedding": {k: emb[k] for k in keep if k in emb}},
         "batch_stats": {"embedding": {k: stats["embedding"][k]
                                       for k in ("bn1", "bn2")}}}
  got = np.asarray(model.embed(two, sub, jnp.asarray(image)[None]))[0]
  assert got.shape == x.shape == (7, 7, 256)
  # float32 vs float64 through two convs: |error| <~ 1e-5 of the scale.
  np.testing.assert_allclose(got, x, rtol=1e-4, atol=1e-4 * np.abs(x).max())


@pytest.mark.parametrize("name, sides, stride", [
    ("cfnet-conv1_e75.mat", [62], 4),  # 11x11/4, no pool
    ("cfnet-conv2_e80.mat", [123, 61, 57], 4),
    ("baseline-conv3-on-cfnet-conv3_e100.mat", [123, 61, 57, 55, 53], 4),
    ("cfnet-conv2_gray_e40.mat", [123, 61, 57], 4),
])
def test_mat_spec_follows_the_layer_table(data_dir, name, sides, stride):
  spec, _, extras = matconvnet.load_mat(data_dir / CFNET / name)
  assert spec.total_stride == stride
  assert [s for _, s in embedding.layer_sizes(spec, 255)] == sides
  # The CF's settings come from its layers; its stored window and target
  # are those we rebuild (checked by the importer) for 255 exemplars.
  assert (spec.join, spec.cf_lambda, spec.cf_margin, spec.cf_sigma) == (
      "cf", 10, 16, 8)
  assert extras["layers"]["join_cf"]["lambda"] == 10
  assert extras["layers"]["join_crop_z"]["margin"] == 16
  assert not extras["params"]  # window and target consumed
  assert extras["adjust"] == "conv" and spec.bn_epsilon == 1e-5
  assert all(layer.batch_norm and layer.relu for layer in spec.layers)


def test_cfnet_conv2_response_equals_a_numpy_forward_of_the_file(data_dir):
  """Our CFNet (crop, embed, CF, xcorr, adjust) vs the file's own layer
  table run in NumPy, on a real exemplar / search pair of vot15_bag."""
  path = data_dir / CFNET / "cfnet-conv2_e80.mat"
  spec, variables, _ = matconvnet.load_mat(path)
  raw, layers = matconvnet._read(path)  # pylint: disable=protected-access
  folder = data_dir / "sequences/vot15_bag"
  frames = [np.asarray(Image.open(folder / f"img/{i:08d}.jpg"), np.float32)
            for i in (1, 8)]
  box = np.loadtxt(folder / "groundtruth.txt", delimiter=",")[0]
  centre = jnp.asarray(box.reshape(4, 2).mean(axis=0), jnp.float32)
  side = 2.0 * 120  # about twice the target with context (training extent)
  z_img, x_img = (crop.crop_and_resize(jnp.asarray(f), centre, side, 255,
                                       crop.mean_colour(frames[0]))
                  for f in frames)
  out = references.dagnn_forward(
      {k: value for k, (value, _) in raw.items()}, layers,
      {"exemplar": np.asarray(z_img), "instance": np.asarray(x_img)})
  want = out["score"][..., 0]
  tmpl = model.template(spec, variables, z_img[None])
  x_feat = model.embed(spec, variables, x_img[None])
  got = np.asarray(model.score(spec, variables, tmpl, x_feat))[0]
  assert got.shape == want.shape == (33, 33)
  np.testing.assert_allclose(got, want, rtol=1e-3,
                             atol=1e-3 * np.abs(want).max())
  raw_got = np.asarray(model.score(spec, variables, tmpl, x_feat, raw=True))
  np.testing.assert_allclose(raw_got[0], out["join_out"][..., 0], rtol=1e-3,
                             atol=1e-3 * np.abs(out["join_out"]).max())


def test_save_mat_round_trips_a_cfnet(tmp_path):
  spec = embedding.ModelSpec(TINY.layers, join="cf", cf_lambda=0.5,
                             cf_sigma=4.0, cf_margin=1)
  variables = _random_variables(spec)
  path = tmp_path / "cf.mat"
  matconvnet.save_mat(path, spec, variables, exemplar_size=101)
  loaded_spec, loaded, extras = matconvnet.load_mat(path)
  assert loaded_spec == spec and not extras["params"]
  np.testing.assert_array_equal(loaded["params"]["adjust_bias"],
                                variables["params"]["adjust_bias"])


@pytest.mark.parametrize("bn_epsilon", [None, 1e-4, 1e-6])
def test_mat_bn_moments_give_back_the_stored_sigma(data_dir, bn_epsilon):
  path = data_dir / CFNET / "cfnet-conv2_e80.mat"
  spec, variables, _ = matconvnet.load_mat(path, bn_epsilon=bn_epsilon)
  raw = {p["name"][0]: p["value"] for p in
         scipy.io.loadmat(path)["net"][0, 0]["params"][0]}
  for i in (1, 2):
    stats = variables["batch_stats"]["embedding"][f"bn{i}"]
    sigma = np.sqrt(np.asarray(stats["var"], np.float64) + spec.bn_epsilon)
    np.testing.assert_allclose(sigma, raw[f"br_bn{i}x"][:, 1], rtol=1e-6)
    np.testing.assert_array_equal(stats["mean"], raw[f"br_bn{i}x"][:, 0])


def test_mat_sigma_below_sqrt_eps_is_clamped_with_a_warning(tmp_path):
  spec = embedding.ModelSpec(TINY.layers, bn_epsilon=1e-8)
  variables = _random_variables(spec)
  variables["batch_stats"]["embedding"]["bn1"]["var"] = (
      variables["batch_stats"]["embedding"]["bn1"]["var"].at[:3].set(0.0))
  path = tmp_path / "tiny.mat"
  matconvnet.save_mat(path, spec, variables)
  with pytest.warns(UserWarning, match="clamped"):
    _, loaded, extras = matconvnet.load_mat(path, bn_epsilon=1e-2)
  assert extras["bn_clamped"] == {"bn1": 3}
  np.testing.assert_array_equal(
      loaded["batch_stats"]["embedding"]["bn1"]["var"][:3], 0.0)


def test_save_mat_round_trips_the_network(tmp_path):
  variables = _random_variables(TINY)
  path = tmp_path / "tiny.mat"
  matconvnet.save_mat(path, TINY, variables)
  spec, loaded, extras = matconvnet.load_mat(path)
  assert spec == TINY and extras["adjust"] == "conv"
  want, got = _leaves(variables), _leaves(loaded)
  assert want.keys() == got.keys()
  for name in want:
    if name.endswith("/var"):
      # The file stores sigma = sqrt(var + eps) in single precision, so var
      # comes back within a few float32 ulps, not bit for bit ...
      np.testing.assert_allclose(got[name], want[name], rtol=1e-6)
    else:
      np.testing.assert_array_equal(got[name], want[name], err_msg=name)
  # ... while the file itself (sigma included) is reproduced exactly.
  again = tmp_path / "again.mat"
  matconvnet.save_mat(again, spec, loaded)
  values = [{p["name"][0]: p["value"] for p in
             scipy.io.loadmat(f)["net"][0, 0]["params"][0]}
            for f in (path, again)]
  assert values[0].keys() == values[1].keys()
  for name, value in values[0].items():
    np.testing.assert_array_equal(values[1][name], value, err_msg=name)


def test_save_mat_uses_the_official_siamfc_names(tmp_path):
  path = tmp_path / "tiny.mat"
  matconvnet.save_mat(path, TINY, _random_variables(TINY))
  params = scipy.io.loadmat(path)["net"][0, 0]["params"][0]
  assert [p["name"][0] for p in params] == [
      "conv1f", "bn1m", "bn1b", "bn1x", "conv2f", "conv2b", "bn2m", "bn2b",
      "bn2x", "conv3f", "conv3b", "adjust_f", "adjust_b"]


def _rewrite_mat(path, edit):
  """Loads a .mat raw with scipy, lets `edit(net)` change it, saves it."""
  net = scipy.io.loadmat(path)["net"]
  edit(net)
  scipy.io.savemat(path, {"net": net})


def test_mat_without_layers_gets_the_papers_topology(tmp_path):
  spec = embedding.alexnet_spec(width=0.0625)
  path = tmp_path / "params_only.mat"
  matconvnet.save_mat(path, spec, _random_variables(spec))

  def drop_layers(net):
    net["layers"][0, 0] = net["layers"][0, 0][:, :0]

  _rewrite_mat(path, drop_layers)
  loaded, _, _ = matconvnet.load_mat(path)
  assert loaded == spec


def test_mat_bn_adjust_is_folded_into_scale_and_bias(tmp_path):
  path = tmp_path / "bn_adjust.mat"
  matconvnet.save_mat(path, TINY, _random_variables(TINY))
  gain, offset, mu, sigma = 2.5, -3.0, 40.0, 800.0

  def bn_adjust(net):
    params = net["params"][0, 0]
    rows = [params[0, j] for j in range(params.shape[1])
            if not params[0, j]["name"][0].startswith("adjust")]
    new = np.empty((1, len(rows) + 3), params.dtype)
    for j, row in enumerate(rows):
      new[0, j] = row
    for j, (name, value) in enumerate([
        ("fin_adjust_bnm", [[gain]]), ("fin_adjust_bnb", [[offset]]),
        ("fin_adjust_bnx", [[mu, sigma]])], start=len(rows)):
      new[0, j]["name"] = name
      new[0, j]["value"] = np.asarray(value, np.float32)
      new[0, j]["learningRate"] = new[0, j]["weightDecay"] = np.zeros((1, 1))
    net["params"][0, 0] = new
    layers = net["layers"][0, 0]
    net["layers"][0, 0] = layers[:, :-1]  # The 'adjust' conv.

  _rewrite_mat(path, bn_adjust)
  _, variables, extras = matconvnet.load_mat(path)
  assert extras["adjust"] == "bn"
  # g (s - mu) / sigma + b  ==  (g / sigma) s + (b - g mu / sigma).
  assert float(variables["params"]["adjust_scale"]) == np.float32(
      gain / sigma)
  assert float(variables["params"]["adjust_bias"]) == np.float32(
      offset - gain * mu / sigma)


def _edited_mat(tmp_path, edit):
  """The tiny net saved by save_mat, then one parameter edited raw."""
  path = tmp_path / "tiny.mat"
  matconvnet.save_mat(path, TINY, _random_variables(TINY))
  net = scipy.io.loadmat(path)["net"]
  params = net["params"][0, 0]
  rows = [j for j in range(params.shape[1]) if edit(params[0, j])]
  net["params"][0, 0] = params[:, rows]
  scipy.io.savemat(path, {"net": net})
  return path


def _set_nan(row):
  if row["name"][0] == "bn1x":
    row["value"] = np.where(np.arange(8)[:, None] == 5, np.nan, row["value"])
  return True


def _widen(row):
  if row["name"][0] == "conv2f":
    row["value"] = np.zeros((3, 3, 5, 6), np.float32)
  return True


@pytest.mark.parametrize("edit, words", [
    (_set_nan, ["bn1x", "NaN"]),
    (_widen, ["conv2f", "input depth 5"]),
    (lambda row: row["name"][0] != "bn2m", ["missing", "bn2m"]),
    (lambda row: row["name"][0] not in ("conv3f", "conv3b"),
     ["missing", "conv3f", "conv3b"]),
])
def test_mat_errors_name_the_parameter(tmp_path, edit, words):
  path = _edited_mat(tmp_path, edit)
  with pytest.raises(ValueError) as error:
    matconvnet.load_mat(path)
  for word in [str(path)] + words:
    assert word in str(error.value)


# ------------------------------------------------------ siamfc-pytorch .pth --


@pytest.mark.parametrize("name, widths", [
    ("FDSiamfc_15.pth", [14, 38, 56, 56, 38]),  # legacy pickle
    ("FDSiamfc_30.pth", [28, 76, 114, 114, 76]),  # zip
])
def test_pth_files_load_with_their_published_shapes(data_dir, name, widths):
  path = data_dir / FDSIAMFC / name
  spec, variables = pytorch.load_pth(path)
  assert [layer.features for layer in spec.layers] == widths
  assert [layer.groups for layer in spec.layers] == [1, 2, 1, 2, 2]
  assert [layer.batch_norm for layer in spec.layers] == [True] * 4 + [False]
  assert spec.bn_epsilon == 1e-6 and spec.total_stride == 8
  state = pytorch.read_state_dict(path)
  emb = variables["params"]["embedding"]
  np.testing.assert_array_equal(
      emb["conv2"]["kernel"],
      state["backbone.conv2.0.weight"].transpose(2, 3, 1, 0))
  np.testing.assert_array_equal(
      variables["batch_stats"]["embedding"]["bn4"]["var"],
      state["backbone.conv4.1.running_var"])
  assert float(variables["params"]["adjust_scale"]) == np.float32(1e-3)
  assert float(variables["params"]["adjust_bias"]) == 0.0


def test_pth_of_alexnet_v2_gets_its_stride_1_pool(data_dir):
  path = data_dir / FDSIAMFC / "FDSiamfc_30.pth"
  v1, _ = pytorch.load_pth(path)
  v2, _ = pytorch.load_pth(path, arch="AlexNetV2")
  assert [layer.pool_stride for layer in v2.layers] == [2, 1, 0, 0, 0]
  assert (v1.total_stride, v2.total_stride) == (8, 4)
  with pytest.raises(ValueError, match="AlexNetV9"):
    pytorch.load_pth(path, arch="AlexNetV9")


def test_pth_network_finds_the_target_where_it_moved(data_dir):
  """Real weights, real frame: the score peak follows a shift of the bag."""
  spec, variables = pytorch.load_pth(data_dir / FDSIAMFC / "FDSiamfc_15.pth")
  folder = data_dir / "sequences/vot15_bag"
  frame = np.asarray(Image.open(folder / "img/00000001.jpg").convert("RGB"),
                     np.float32)
  frame = np.pad(frame, ((200, 200), (200, 200), (0, 0)), mode="edge")
  polygon = np.loadtxt(folder / "groundtruth.txt", delimiter=",")[0]
  cx, cy = (int(round(v)) + 200 for v in polygon.reshape(4, 2).mean(axis=0))
  dx, dy = 24, -16  # 3 and -2 cells of the total stride 8.

  def crop(x, y, side):
    return frame[y - side // 2:y - side // 2 + side,
                 x - side // 2:x - side // 2 + side]

  z_img = jnp.asarray(crop(cx, cy, 127))[None]
  x_img = jnp.asarray(crop(cx - dx, cy - dy, 255))[None]
  score = np.asarray(model.score(spec, variables,
                                 model.embed(spec, variables, z_img),
                                 model.embed(spec, variables, x_img)))[0]
  row, col = np.unravel_index(score.argmax(), score.shape)
  assert score.shape == (17, 17)
  assert ((col - 8) * 8, (row - 8) * 8) == (dx, dy)


class _Payload:
  """Unpickling this would run a shell command."""

  def __init__(self, marker):
    self.marker = marker

  def __reduce__(self):
    return (os.system, (f"touch {self.marker}",))


class _EvalPayload(_Payload):

  def __reduce__(self):
    return (eval, (f"open({str(self.marker)!r}, 'w')",))


def _write_pth(path, obj, legacy):
  data = pickle.dumps(obj, protocol=2)
  if legacy:
    path.write_bytes(
        pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)
        + pickle.dumps(1001, protocol=2)
        + pickle.dumps({"little_endian": True}, protocol=2)
        + data + pickle.dumps([], protocol=2))
  else:
    with zipfile.ZipFile(path, "w") as archive:
      archive.writestr("archive/data.pkl", data)
      archive.writestr("archive/version", "3\n")


@pytest.mark.parametrize("legacy", [False, True])
@pytest.mark.parametrize("payload, forbidden", [
    (_Payload, "system"), (_EvalPayload, "eval")])
def test_pth_with_pickled_code_is_refused_and_nothing_runs(
    tmp_path, legacy, payload, forbidden):
  marker = tmp_path / "pwned"
  path = tmp_path / "evil.pth"
  _write_pth(path, collections.OrderedDict(
      [("backbone.conv1.0.weight", payload(marker))]), legacy)
  with pytest.raises(ValueError, match="refusing") as error:
    pytorch.load_pth(path)
  assert str(path) in str(error.value) and forbidden in str(error.value)
  assert not marker.exists()


def _pickled_build(module, name, key, value):
  """A pickle that names a global and BUILDs {key: value} into it."""
  def text(t):
    return b"X" + len(t).to_bytes(4, "little") + t.encode()
  return (b"\x80\x02c" + f"{module}\n{name}\n".encode() + b"}"
          + text(key) + text(value) + b"sb.")


@pytest.mark.parametrize("module, name, key", [
    ("torch", "FloatStorage", "dtype"),
    ("torch._utils", "_rebuild_tensor_v2", "marker"),
])
def test_a_refused_pth_cannot_alter_what_later_loads_get(
    tmp_path, module, name, key):
  path = tmp_path / "build.pth"
  with zipfile.ZipFile(path, "w") as archive:
    archive.writestr("archive/data.pkl", _pickled_build(module, name, key,
                                                        "i4"))
  with pytest.raises(ValueError, match=str(path)):
    pytorch.load_pth(path)
  assert pytorch._allowed_global("torch", "FloatStorage").dtype == (
      pytorch._STORAGE_DTYPES["FloatStorage"])
  assert not any(hasattr(f, key) for f in pytorch._FUNCTIONS.values())


def test_pth_holding_a_non_tensor_value_is_refused(tmp_path):
  path = tmp_path / "odd.pth"
  _write_pth(path, collections.OrderedDict([("backbone.conv1.0.weight", 3)]),
             legacy=False)
  with pytest.raises(ValueError, match="backbone.conv1.0.weight"):
    pytorch.load_pth(path)


def _edited_zip(src, dst, edit):
  with zipfile.ZipFile(src) as old, zipfile.ZipFile(dst, "w") as new:
    for entry in old.infolist():
      new.writestr(entry, edit(entry.filename, old.read(entry.filename)))
  return dst


def _swap(blob, a, b, spare):
  assert len(a) == len(b) == len(spare) and spare not in blob
  return blob.replace(a, spare).replace(b, a).replace(spare, b)


@pytest.mark.parametrize("edit, words", [
    (lambda n, b: (np.full(1, np.nan, "<f4").tobytes() + b[4:])
     if n == "archive/data/0" else b, ["backbone.conv1.0.weight", "NaN"]),
    (lambda n, b: b.replace(b"conv4.0.weight", b"conv4.0.weighx"),
     ["missing", "backbone.conv4.0.weight", "unexpected",
      "backbone.conv4.0.weighx"]),
    (lambda n, b: _swap(b, b"conv2.1.bias", b"conv3.1.bias", b"conv9.9.bias"),
     ["backbone.conv", ".1.bias", "shape"]),
    (lambda n, b: b[:-40] if n == "archive/data/14" else b,
     ["truncated"]),
])
def test_pth_errors_name_the_parameter(data_dir, tmp_path, edit, words):
  path = _edited_zip(data_dir / FDSIAMFC / "FDSiamfc_30.pth",
                     tmp_path / "edited.pth", edit)
  with pytest.raises(ValueError) as error:
    pytorch.load_pth(path)
  for word in [str(path)] + words:
    assert word in str(error.value)


# ---------------------------------------------- damaged files of any kind --


@pytest.mark.parametrize("name, loader", [
    (INT8, int8_npz.load_int8_npz),
    (f"{CFNET}/cfnet-conv1_e75.mat", matconvnet.load_mat),
    (f"{FDSIAMFC}/FDSiamfc_15.pth", pytorch.load_pth),
    (f"{FDSIAMFC}/FDSiamfc_30.pth", pytorch.load_pth),
])
@pytest.mark.parametrize("keep", [0.5, 0.98, 0.0])
def test_truncated_files_raise_a_value_error_naming_the_file(
    data_dir, tmp_path, name, loader, keep):
  blob = (data_dir / name).read_bytes()
  path = tmp_path / ("cut" + pathlib.Path(name).suffix)
  path.write_bytes(blob[:int(len(blob) * keep)])
  with pytest.raises(ValueError, match=re.escape(str(path))):
    loader(path)


@pytest.mark.parametrize("loader", [
    int8_npz.load_int8_npz, matconvnet.load_mat, pytorch.load_pth])
def test_missing_file_raises_file_not_found(tmp_path, loader):
  with pytest.raises(FileNotFoundError, match="nothing.bin"):
    loader(tmp_path / "nothing.bin")


def _run_convert(*args):
  return subprocess.run(
      [sys.executable, "-m", "experiments.convert", *args], cwd=REPO,
      capture_output=True, text=True, timeout=300, check=False)


def test_convert_command_writes_a_loadable_checkpoint(data_dir, tmp_path):
  src = data_dir / FDSIAMFC / "FDSiamfc_15.pth"
  out = tmp_path / "ckpt"
  result = _run_convert(f"--src={src}", f"--out={out}")
  assert result.returncode == 0, result.stderr
  assert re.search(r"params/embedding/conv2/kernel +5x5x7x38", result.stdout)
  spec, variables, config = checkpoints.load(out)
  want_spec, want = pytorch.load_pth(src)
  assert spec == want_spec and config["format"] == "pth"
  for name, value in _leaves(want).items():
    np.testing.assert_array_equal(_leaves(variables)[name], value)


def test_converted_cfnet_tracks_with_its_preset(data_dir, tmp_path):
  from siamfc_jax.cli import convert as convert_cmd  # pylint: disable=g-import-not-at-top
  from siamfc_jax import tracker as tracker_lib  # pylint: disable=g-import-not-at-top
  from siamfc_jax import tracking  # pylint: disable=g-import-not-at-top
  src = data_dir / CFNET / "cfnet-conv1_e75.mat"
  convert_cmd.convert(str(src), str(tmp_path / "ckpt"))
  tracker = tracker_lib.Tracker.from_checkpoint(tmp_path / "ckpt",
                                                backend="jax")
  assert tracker.spec.join == "cf"
  assert tracker.params == tracking.CFNET_CONV1


def test_failed_conversion_leaves_no_checkpoint(data_dir, tmp_path):
  src = tmp_path / "cut.mat"
  blob = (data_dir / CFNET / "cfnet-conv1_e75.mat").read_bytes()
  src.write_bytes(blob[:len(blob) // 2])
  out = tmp_path / "ckpt"
  result = _run_convert(f"--src={src}", f"--out={out}")
  assert result.returncode != 0
  assert str(src) in result.stderr and "Traceback" not in result.stderr
  assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.mat"]
