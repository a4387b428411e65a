"""Synthetic training pairs: a random textured object on random clutter.

For tests and the `tiny` config: no data needed, yet the task is the real
one. The exemplar shows the object at its centre; the search image shows the
same object (slightly recoloured) on a different background, displaced from
the centre by at most `max_shift` pixels, plus a distractor of another
texture. A fully-convolutional net cannot learn a position prior, so a lower
loss means it learned to find the object; the distractor (an object of the
same kind) makes it match the exemplar rather than detect any object.

Pair i of a stream is a pure function of (seed, i), so the iterator state is
just the next index, and a resumed stream repeats an uninterrupted one. On
H hosts each reads its slice of every global batch (`shard`), so H hosts
train on the pairs one host would, whatever H is.
"""

from __future__ import annotations

import numpy as np


def _texture(rng: np.random.Generator, h: int, w: int, cells=(3, 6),
             levels=(0, 255)) -> np.ndarray:
  """[h, w, 3] float32 blocky random texture with values in `levels`."""
  cell = int(rng.integers(*cells))
  small = rng.uniform(*levels, (h // cell + 2, w // cell + 2, 3))
  return np.kron(small, np.ones((cell, cell, 1)))[:h, :w].astype(np.float32)


def _clutter(rng: np.random.Generator, size: int) -> np.ndarray:
  """A coarser, lower-contrast background than the objects."""
  return _texture(rng, size, size, cells=(6, 12), levels=(48, 208))


def _paste(canvas: np.ndarray, patch: np.ndarray, cy: int, cx: int) -> None:
  h, w = patch.shape[:2]
  canvas[cy - h // 2:cy - h // 2 + h, cx - w // 2:cx - w // 2 + w] = patch


def make_pair(seed: int, index: int, exemplar_size: int, instance_size: int,
              object_size: int = 40, max_shift: int = 4,
              distractor: bool = True
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """One positive pair.

  Args:
    seed: stream seed.
    index: pair index in the stream.
    exemplar_size: side of z in pixels.
    instance_size: side of x in pixels.
    object_size: side of the square object in pixels.
    max_shift: largest displacement of the object from the centre of x.
    distractor: add a second, different object to x.

  Returns:
    (z [exemplar_size, exemplar_size, 3] uint8, x [instance_size,
    instance_size, 3] uint8, [2] int32 (dx, dy) displacement of the object
    from the centre of x).
  """
  rng = np.random.default_rng([seed, index])
  obj = _texture(rng, object_size, object_size)
  z = _clutter(rng, exemplar_size)
  x = _clutter(rng, instance_size)
  _paste(z, obj, exemplar_size // 2, exemplar_size // 2)
  shift = rng.integers(-max_shift, max_shift + 1, 2)
  if distractor:
    other = _texture(rng, object_size, object_size)
    corner = instance_size // 2 - object_size
    side = rng.choice([-1, 1], 2)
    _paste(x, other, instance_size // 2 + side[0] * corner,
           instance_size // 2 + side[1] * corner)
  gain = rng.uniform(0.8, 1.2, 3).astype(np.float32)
  _paste(x, np.clip(obj * gain, 0, 255), instance_size // 2 + shift[1],
         instance_size // 2 + shift[0])
  return z.astype(np.uint8), x.astype(np.uint8), shift.astype(np.int32)


class PairStream:
  """Batches of synthetic pairs with a resumable position.

  Yields `{'z': uint8 [B, Sz, Sz, 3], 'x': uint8 [B, Sx, Sx, 3]}`: with
  `shard=(h, H)`, pairs `k * B * H + h * B + [0, B)` of the stream for the
  k-th batch, host h's slice of global batch k (B * H pairs).
  """

  def __init__(self, seed: int, batch_size: int, exemplar_size: int,
               instance_size: int, max_shift: int = 4,
               shard: tuple[int, int] = (0, 1)):
    index, count = shard
    if count < 1 or not 0 <= index < count:
      raise ValueError(f"shard {shard}: expected (index, count) with "
                       "0 <= index < count")
    self._seed, self._batch = seed, batch_size
    self._sizes = (exemplar_size, instance_size)
    self._max_shift = max_shift
    self._shard = (index, count)
    self._next = 0  # first pair of the next global batch

  def __iter__(self):
    return self

  def __next__(self) -> dict[str, np.ndarray]:
    index, count = self._shard
    first = self._next + index * self._batch
    pairs = [make_pair(self._seed, first + i, *self._sizes,
                       max_shift=self._max_shift) for i in range(self._batch)]
    self._next += self._batch * count
    return {"z": np.stack([p[0] for p in pairs]),
            "x": np.stack([p[1] for p in pairs])}

  def get_state(self) -> dict:
    return {"next": self._next}

  def set_state(self, state: dict) -> None:
    self._next = int(state["next"])
