"""Slow, obvious NumPy references that the fast JAX code is checked against."""

import numpy as np


def xcorr_brute_force(z_feat: np.ndarray, x_feat: np.ndarray) -> np.ndarray:
  """Inner product of each exemplar with every sub-window of its searches.

  Args:
    z_feat: [B, hz, wz, C] exemplar features.
    x_feat: [B * S, Hx, Wx, C] search features, exemplar-major.

  Returns:
    [B * S, Hx - hz + 1, Wx - wz + 1] float64 maps.
  """
  b, hz, wz, _ = z_feat.shape
  bs, hx, wx, _ = x_feat.shape
  s = bs // b
  out = np.zeros((bs, hx - hz + 1, wx - wz + 1))
  for n in range(bs):
    z = z_feat[n // s].astype(np.float64)
    for i in range(hx - hz + 1):
      for j in range(wx - wz + 1):
        out[n, i, j] = np.sum(z * x_feat[n, i:i + hz, j:j + wz])
  return out


def crop_pad_resize(image: np.ndarray, centre, side: float, out_size: int,
                    fill) -> np.ndarray:
  """Pads the frame with `fill`, then samples the window bilinearly.

  The window [cx - side/2, cx + side/2) (continuous coordinates, pixel i
  centred at i + 0.5) is resampled at half-pixel output centres.

  Returns:
    [out_size, out_size, C] float64 crop.
  """
  h, w, c = image.shape
  reach = max(side / 2 + abs(centre[0]), side / 2 + abs(centre[1]))
  margin = int(np.ceil(reach)) + 2  # every tap lands in the padded frame
  padded = np.empty((h + 2 * margin, w + 2 * margin, c))
  padded[:] = np.asarray(fill, np.float64)
  padded[margin:margin + h, margin:margin + w] = image

  def taps(start):
    pos = start + margin + (np.arange(out_size) + 0.5) * side / out_size - 0.5
    i0 = np.floor(pos).astype(int)
    return i0, pos - i0

  r0, ty = taps(centre[1] - side / 2)
  c0, tx = taps(centre[0] - side / 2)
  rows = ((1 - ty)[:, None, None] * padded[r0]
          + ty[:, None, None] * padded[r0 + 1])
  return ((1 - tx)[None, :, None] * rows[:, c0]
          + tx[None, :, None] * rows[:, c0 + 1])


def matlab_round(x: float) -> int:
  """MATLAB `round`: halves away from zero."""
  return int(np.sign(x) * np.floor(abs(x) + 0.5))


def original_window(box_1based, context: float = 0.5, scale: float = 1.0):
  """The original's integer crop window for an OTB box, in our coordinates.

  `get_subwindow_tracking.m`: pos = x + w/2 (1-based), sz = round(s),
  xmin = round(pos - (sz + 1) / 2), covering pixels xmin..xmin + sz - 1.

  Returns:
    ((cx, cy) centre, side) of that window in 0-based continuous pixels.
  """
  x, y, w, h = box_1based
  pad = context * (w + h)
  sz = matlab_round(np.sqrt((w + pad) * (h + pad)) * scale)
  xmin = matlab_round(x + w / 2 - (sz + 1) / 2)
  ymin = matlab_round(y + h / 2 - (sz + 1) / 2)
  # 1-based pixel k covers [k - 1, k) in continuous 0-based coordinates.
  return (xmin - 1 + sz / 2, ymin - 1 + sz / 2), float(sz)


def conv2d_brute_force(x: np.ndarray, kernel: np.ndarray,
                       bias: np.ndarray | None = None, stride: int = 1,
                       groups: int = 1) -> np.ndarray:
  """Valid grouped convolution (correlation) by explicit patch products.

  Args:
    x: [H, W, C_in] input.
    kernel: [k, k, C_in / groups, C_out] (MatConvNet / Flax HWIO layout).
    bias: [C_out] or None.
    stride: step between output positions.
    groups: input and output channels split into this many blocks.

  Returns:
    [(H - k) // stride + 1, (W - k) // stride + 1, C_out] float64.
  """
  k, _, c_group, c_out = kernel.shape
  h_out = (x.shape[0] - k) // stride + 1
  w_out = (x.shape[1] - k) // stride + 1
  o_group = c_out // groups
  out = np.zeros((h_out, w_out, c_out))
  for i in range(h_out):
    for j in range(w_out):
      patch = x[i * stride:i * stride + k, j * stride:j * stride + k]
      for g in range(groups):
        out[i, j, g * o_group:(g + 1) * o_group] = np.tensordot(
            patch[..., g * c_group:(g + 1) * c_group].astype(np.float64),
            kernel[..., g * o_group:(g + 1) * o_group].astype(np.float64),
            axes=3)
  return out if bias is None else out + bias


def max_pool3_brute_force(x: np.ndarray, stride: int) -> np.ndarray:
  """3x3 valid max-pooling of [H, W, C] with the given stride."""
  h_out = (x.shape[0] - 3) // stride + 1
  w_out = (x.shape[1] - 3) // stride + 1
  out = np.empty((h_out, w_out, x.shape[2]), x.dtype)
  for i in range(h_out):
    for j in range(w_out):
      out[i, j] = x[i * stride:i * stride + 3,
                    j * stride:j * stride + 3].max(axis=(0, 1))
  return out


def matconvnet_bnorm_test(x: np.ndarray, gain, offset,
                          moments) -> np.ndarray:
  """`vl_nnbnorm` in test mode: (x - mu) / sigma * gain + offset.

  Args:
    x: [..., C] input.
    gain, offset: [C] (or [C, 1], as stored in the .mat).
    moments: [C, 2] = [mu, sigma], used as stored (no epsilon added).
  """
  moments = np.asarray(moments, np.float64)
  return ((x - moments[:, 0]) / moments[:, 1] * np.ravel(gain)
          + np.ravel(offset))


def correlation_filter_fft(x: np.ndarray, target: np.ndarray,
                           lam: float) -> np.ndarray:
  """CFNet's closed form (`corr_filter.m`) with np.fft, [n, n, C] float64."""
  n = x.shape[0] * x.shape[1]
  xf = np.fft.fft2(x.astype(np.float64), axes=(0, 1))
  k = np.sum((np.conj(xf) * xf).real, axis=2, keepdims=True) / n + lam
  a = np.fft.fft2(target.astype(np.float64))[:, :, None] / n / k
  return np.real(np.fft.ifft2(np.conj(a) * xf, axes=(0, 1)))


def dagnn_forward(params: dict, layers: list[dict],
                  inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
  """Runs a MatConvNet DagNN layer table (test mode) in float64 NumPy.

  Layers whose inputs are all known run in file order (loss layers, whose
  label inputs are never given, are skipped).

  Args:
    params: {name: array} of the file's parameters.
    layers: the file's layer table ({'name', 'type', 'inputs', 'outputs',
      'params', 'block'}).
    inputs: {variable name: [H, W, C] array}, e.g. 'exemplar', 'instance'.

  Returns:
    Every variable computed, by name.
  """
  v = {k: np.asarray(x, np.float64) for k, x in inputs.items()}
  for layer in layers:
    if not all(name in v for name in layer["inputs"]):
      continue
    x = v[layer["inputs"][0]]
    p = [np.asarray(params[name], np.float64) for name in layer["params"]]
    block, kind = layer["block"], layer["type"]
    if kind == "dagnn.Conv":
      kernel = p[0].reshape(p[0].shape + (1,) * (4 - p[0].ndim))
      stride = int(np.ravel(block.get("stride", 1))[0])
      y = conv2d_brute_force(x, kernel, p[1].ravel() if len(p) > 1 else None,
                             stride, x.shape[2] // kernel.shape[2])
    elif kind == "dagnn.BatchNorm":
      y = matconvnet_bnorm_test(x, *p)
    elif kind == "dagnn.ReLU":
      y = np.maximum(x, 0)
    elif kind == "dagnn.Pooling":
      assert block["method"] == "max" and np.all(
          np.ravel(block["poolSize"]) == 3)
      y = max_pool3_brute_force(x, int(np.ravel(block["stride"])[0]))
    elif kind == "MulConst":
      y = x * p[0][:, :, None]
    elif kind == "CorrFilter":
      y = correlation_filter_fft(x, p[0], float(block["lambda"]))
    elif kind == "CropMargin":
      m = int(block["margin"])
      y = x[m:x.shape[0] - m, m:x.shape[1] - m]
    elif kind == "XCorr":
      y = xcorr_brute_force(x[None], v[layer["inputs"][1]][None])[0][..., None]
    else:
      continue  # losses and error metrics
    v[layer["outputs"][0]] = y
  return v


def triplet_loss_loops(score: np.ndarray, labels: np.ndarray,
                       extra_neg: np.ndarray | None = None,
                       topk: int = 0) -> float:
  """Dong & Shen's triplet loss by explicit loops over (p, n) pairs.

  Args:
    score: [B, H, W] maps; labels: [H, W] in {-1, 0, +1}.
    extra_neg: [B, K, H, W] maps of other pairs' search crops (every cell a
      negative of exemplar b), or None.
    topk: keep only the topk highest negatives of each exemplar (0: all).

  Returns:
    mean_b 1/(M N) sum_p sum_n -log(e^{v_p} / (e^{v_p} + e^{v_n})).
  """
  total = 0.0
  for b in range(score.shape[0]):
    pos = [float(v) for v, y in zip(score[b].ravel(), labels.ravel()) if y > 0]
    neg = [float(v) for v, y in zip(score[b].ravel(), labels.ravel()) if y < 0]
    if extra_neg is not None:
      neg += [float(v) for v in extra_neg[b].ravel()]
    if topk:
      neg = sorted(neg, reverse=True)[:topk]
    terms = []
    for vp in pos:
      for vn in neg:
        prob = np.exp(vp) / (np.exp(vp) + np.exp(vn))
        terms.append(-np.log(prob))
    total += sum(terms) / (len(pos) * len(neg))
  return total / score.shape[0]


# --- pysot-toolkit's one-pass definitions (StrangerZhang/pysot-toolkit,
# 8b5ced3: pysot/utils/statistics.py success_overlap / success_error,
# pysot/evaluation/ope_benchmark.py eval_success / eval_precision /
# eval_norm_precision / show_result), written again as plain loops. Boxes
# are the files' raw [x, y, w, h] values (pysot never shifts them).

PYSOT_IOU_THRESHOLDS = np.arange(0, 1.05, 0.05)  # success_overlap


def pysot_overlap(a: np.ndarray, b: np.ndarray) -> float:
  """IoU of two [4] boxes, no +1, no epsilon, clipped to [0, 1]."""
  left, right = max(a[0], b[0]), min(a[0] + a[2], b[0] + b[2])
  top, bottom = max(a[1], b[1]), min(a[1] + a[3], b[1] + b[3])
  inter = max(0.0, right - left) * max(0.0, bottom - top)
  union = a[2] * a[3] + b[2] * b[3] - inter
  return min(1.0, max(0.0, inter / union))


def _pysot_center(box: np.ndarray) -> np.ndarray:
  return np.array([box[0] + (box[2] - 1) / 2, box[1] + (box[3] - 1) / 2])


def pysot_curves(gt: np.ndarray, pred: np.ndarray,
                 present: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """pysot's success [21], precision [51] and normalised precision [51]
  curves of one video.

  Frames with `present` False (LaSOT's `absent` field, 1 = visible) are
  dropped before scoring but stay in the denominator (n_frame); a ground
  truth with a value <= 0 scores IoU -1 (a miss); a ground-truth centre
  (normalised centre) with a coordinate <= 0 scores distance -1 (a hit).
  Normalised centres are the centres divided by the ground truth's
  (w, h) + 1e-16.
  """
  n_frame = len(gt)
  if present is not None:
    keep = np.asarray(present, bool)
    gt, pred = gt[keep], pred[keep]
  success = np.zeros(len(PYSOT_IOU_THRESHOLDS))
  precision = np.zeros(51)
  norm = np.zeros(51)
  for g, p in zip(gt, pred):
    iou = pysot_overlap(g, p) if np.all(g > 0) else -1.0
    success += iou > PYSOT_IOU_THRESHOLDS
    cg, cp = _pysot_center(g), _pysot_center(p)
    dist = np.hypot(*(cg - cp)) if np.all(cg > 0) else -1.0
    precision += dist <= np.arange(51)
    wh = g[2:] + 1e-16
    ng, npred = cg / wh, cp / wh
    dist = np.hypot(*(ng - npred)) if np.all(ng > 0) else -1.0
    norm += dist <= np.arange(51) / 100
  return success / n_frame, precision / n_frame, norm / n_frame


def pysot_scores(curves: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
                 ) -> dict[str, float]:
  """pysot's show_result over videos: success = mean of every video's
  success curve; precision, normalised precision = mean curve at index 20."""
  return {"auc": float(np.mean([c[0] for c in curves])),
          "precision20": float(np.mean([c[1] for c in curves], axis=0)[20]),
          "norm_precision": float(
              np.mean([c[2] for c in curves], axis=0)[20])}
