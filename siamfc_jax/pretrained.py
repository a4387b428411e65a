"""The original SiamFC network and a demo clip, shipped inside the package.

Every shipped file is listed with its SHA-256 in `assets/SHA256SUMS`, whose
own SHA-256 is recorded here; both are checked on load, so a corrupted or
tampered file is refused with an error naming it. Licences and provenance:
`assets/*/SOURCE.txt`, `assets/*/LICENSE` and THIRD_PARTY_NOTICES.md.
"""

from __future__ import annotations

import functools
import hashlib
import pathlib

from siamfc_jax import embedding
from siamfc_jax.convert import int8_npz
from siamfc_jax.data import sequences

ASSETS = pathlib.Path(__file__).resolve().parent / "assets"
_MANIFEST_SHA256 = (
    "4e0d7c554d64938ccf1fb7f89d76836e1cb50c7da8a950469ebc001d1871d752")
NETWORK = "siamfc_2016-08-17/siamfc_int8_exact.npz"
DEMO = "demo/vot15_bag"


def _sha256(path: pathlib.Path) -> str:
  return hashlib.sha256(path.read_bytes()).hexdigest()


@functools.cache
def _manifest() -> dict[str, str]:
  """{relative path: sha256} of the shipped files, itself verified."""
  path = ASSETS / "SHA256SUMS"
  if not path.is_file():
    raise FileNotFoundError(f"package data missing: {path} (reinstall)")
  if _sha256(path) != _MANIFEST_SHA256:
    raise ValueError(f"{path} does not match its recorded SHA-256: the "
                     "package data was modified; reinstall siamfc_jax")
  manifest = {}
  for line in path.read_text().splitlines():
    digest, name = line.split(maxsplit=1)
    manifest[name.lstrip("*")] = digest
  return manifest


def verified(relative: str) -> pathlib.Path:
  """Path of a shipped file after checking its SHA-256.

  Raises:
    FileNotFoundError: the file is missing.
    ValueError: its content differs from the recorded checksum.
  """
  path = ASSETS / relative
  expected = _manifest().get(relative)
  if expected is None:
    raise ValueError(f"{relative} is not a shipped file")
  if not path.is_file():
    raise FileNotFoundError(f"package data missing: {path} (reinstall)")
  if _sha256(path) != expected:
    raise ValueError(f"{path} does not match its recorded SHA-256 "
                     f"{expected}: corrupted or modified; reinstall siamfc_jax")
  return path


def network() -> tuple[embedding.ModelSpec, dict]:
  """The original SiamFC network: (spec, variables), checksum-verified."""
  return int8_npz.load_int8_npz(verified(NETWORK))


def demo_sequence() -> sequences.Sequence:
  """The bundled demo clip (VOT2015 bag, 196 frames, with ground truth)."""
  folder = ASSETS / DEMO
  for name in _manifest():
    if name.startswith(DEMO + "/"):
      verified(name)
  return sequences.read_vot(folder)
