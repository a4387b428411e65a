"""The benchmarks we read: a registry of readers, layout detectors and
protocol names.

  seqs = datasets.read("lasot", "data/LaSOT")
  datasets.detect("data/UAV123")  # ['uav123', 'uav20l']

Each family has one reader module (`lasot`, `uav`, `trackingnet`, `nfs`,
`tc128`, `otb` (also DTB70)); VOT and GOT-10k wrap the readers of
`siamfc_jax.data.sequences`. Every reader returns `sequences.Sequence`
objects with 0-based boxes (`siamfc_jax.boxes`), `meta['format']` (the
family), `meta['origin']` (1 when the annotation files are 1-based, so result
files are written x, y + 1), `meta['gt_file']` and, where the benchmark
flags absence, `meta['absent']` ([N] bool); `read` adds `meta['benchmark']`.
Adding a benchmark: one reader module and one `register` call below.
"""

import dataclasses
import os
import pathlib
from typing import Callable

from siamfc_jax.data import sequences
from siamfc_jax.data.datasets import files
from siamfc_jax.data.datasets import lasot
from siamfc_jax.data.datasets import nfs
from siamfc_jax.data.datasets import otb
from siamfc_jax.data.datasets import tc128
from siamfc_jax.data.datasets import trackingnet
from siamfc_jax.data.datasets import uav


@dataclasses.dataclass(frozen=True)
class Benchmark:
  """One benchmark: how to read and recognise it, and how to score it.

  Attributes:
    name: the `--dataset` value, protocol name and result-folder key.
    description: one line for help texts.
    read: dataset root -> its sequences (raises FileNotFoundError /
      ValueError on a wrong or malformed root).
    detect: dataset root -> whether it has this benchmark's layout.

  The benchmark's protocol (`siamfc_jax.evaluation.benchmarks.PROTOCOLS`)
  has the same name.
  """

  name: str
  description: str
  read: Callable[[pathlib.Path], list[sequences.Sequence]]
  detect: Callable[[pathlib.Path], bool]


BENCHMARKS: dict[str, Benchmark] = {}


def register(benchmark: Benchmark) -> Benchmark:
  """Adds a benchmark to `BENCHMARKS` (ValueError if the name is taken)."""
  if benchmark.name in BENCHMARKS:
    raise ValueError(f"benchmark {benchmark.name!r} is already registered")
  BENCHMARKS[benchmark.name] = benchmark
  return benchmark


def _root(root: os.PathLike | str) -> pathlib.Path:
  root = pathlib.Path(root)
  if not root.is_dir():
    raise FileNotFoundError(f"{root}: dataset folder not found")
  return root


def read(name: str, root: os.PathLike | str) -> list[sequences.Sequence]:
  """The sequences of benchmark `name` in `root`, `meta['benchmark']` set.

  Raises:
    ValueError: unknown name, or malformed files.
    FileNotFoundError: no such folder, or none of the benchmark's sequences.
  """
  if name not in BENCHMARKS:
    raise ValueError(f"unknown benchmark {name!r}; expected one of "
                     f"{', '.join(BENCHMARKS)}")
  seqs = BENCHMARKS[name].read(_root(root))
  for seq in seqs:
    seq.meta["benchmark"] = name
  return seqs


def detect(root: os.PathLike | str) -> list[str]:
  """Names of the registered benchmarks whose layout `root` has (in
  registration order; several for a root holding more than one, e.g. the
  UAV123 download's UAV123 and UAV20L, or a folder of mixed layouts)."""
  root = _root(root)
  return [b.name for b in BENCHMARKS.values() if b.detect(root)]


def choose(name: str | None, root: os.PathLike | str,
           log: Callable[[str], None] = print) -> str:
  """`name`, or the one benchmark whose layout `root` has (`detect`).

  Args:
    name: a benchmark name, or None to detect it.
    root: the dataset folder.
    log: told which layout was detected.

  Raises:
    FileNotFoundError: `root` is not a folder.
    ValueError: an unknown `name`, or none or several layouts found (the
      message names them and what to pass).
  """
  if name is not None:
    if name not in BENCHMARKS:
      raise ValueError(f"unknown benchmark {name!r}; expected one of "
                       f"{', '.join(BENCHMARKS)}")
    return name
  found = detect(root)
  if len(found) == 1:
    log(f"{root} has the {found[0]} layout; using --dataset={found[0]}")
    return found[0]
  if not found:
    raise ValueError(f"{root}: no known benchmark layout recognised; pass "
                     f"--dataset=one of {', '.join(BENCHMARKS)}")
  raise ValueError(f"{root}: several benchmark layouts found "
                   f"({', '.join(found)}); pass --dataset=one of them")


# VOT / GOT-10k: the readers of `sequences`, unchanged.

def _read_vot(root: pathlib.Path) -> list[sequences.Sequence]:
  seqs = sequences.read_dataset(root, "auto")  # VOT may mix in OTB folders
  for seq in seqs:
    seq.meta.setdefault("origin", 1 if seq.meta["format"] == "otb" else 0)
  return seqs


def _read_got10k(root: pathlib.Path) -> list[sequences.Sequence]:
  seqs = sequences.read_dataset(root, "got10k")
  for seq in seqs:
    seq.meta["origin"] = 0
    if "absence" in seq.meta:
      seq.meta["absent"] = seq.meta["absence"]
  return seqs


def _listed_or_all(root: pathlib.Path) -> list[pathlib.Path]:
  list_file = root / "list.txt"
  if list_file.is_file():
    return [root / n for n in files.read_names(list_file)]
  return [f for f in sorted(root.iterdir()) if f.is_dir()]


def _is_got10k(folder: pathlib.Path) -> bool:
  return (sequences.detect_layout(folder) == "got10k" or
          (folder.name.startswith("GOT-10k_") and
           (folder / "groundtruth.txt").is_file()))


def _detect_vot(root: pathlib.Path) -> bool:
  """Sequence folders with `groundtruth.txt` (one line per frame) and no
  GOT-10k marker files or names."""
  folders = [f for f in _listed_or_all(root) if f.is_dir()]
  return any(sequences.detect_layout(f) == "vot" and not _is_got10k(f)
             for f in folders)


def _detect_got10k(root: pathlib.Path) -> bool:
  return any(_is_got10k(f) for f in _listed_or_all(root) if f.is_dir())


def _register_all() -> None:
  ope = "one pass, success AUC / precision"
  register(Benchmark("otb", "any folder of OTB-layout sequences (" + ope +
                     ")", otb.read_any, otb.detect_any))
  for name, title in (("otb2013", "OTB-2013 (51 targets)"),
                      ("otb50", "OTB-50 (TB-50, 50 targets)"),
                      ("otb100", "OTB-100 (TB-100, 100 targets)")):
    register(Benchmark(name, title, lambda r, s=name: otb.read_subset(r, s),
                       lambda r: False))
  register(Benchmark("lasot", "LaSOT test split (280 sequences)",
                     lasot.read_test, lasot.detect_test))
  register(Benchmark("lasot_ext", "LaSOT-ext (150 sequences)",
                     lasot.read_ext, lasot.detect_ext))
  for name, title in (("uav123", "UAV123"), ("uav20l", "UAV20L"),
                      ("uav123_10fps", "UAV123@10fps")):
    register(Benchmark(name, title, lambda r, b=name: uav.read(r, b),
                       lambda r, b=name: uav.detect(r, b)))
  register(Benchmark("trackingnet", "TrackingNet (TEST chunk, else TRAIN_k)",
                     trackingnet.read, trackingnet.detect))
  register(Benchmark("nfs", "NfS, 30 fps", lambda r: nfs.read(r, 30),
                     lambda r: nfs.detect(r, 30)))
  register(Benchmark("nfs240", "NfS, 240 fps", lambda r: nfs.read(r, 240),
                     lambda r: nfs.detect(r, 240)))
  register(Benchmark("tc128", "TC-128 (Temple Color)", tc128.read,
                     tc128.detect))
  register(Benchmark("dtb70", "DTB70", otb.read_dtb70, otb.detect_dtb70))
  register(Benchmark("vot", "VOT (supervised, re-initialised after "
                     "failures)", _read_vot, _detect_vot))
  register(Benchmark("got10k", "GOT-10k (one pass, AO / SR)", _read_got10k,
                     _detect_got10k))


_register_all()
