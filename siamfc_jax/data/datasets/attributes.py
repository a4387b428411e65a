"""Sequence attributes of the benchmarks that tag them (challenge factors).

  attrs = attributes.read("otb100", root, seqs)   # None without any
  attrs.names      # (('IV', 'Illumination Variation'), ...)
  attrs.of["Biker"]  # frozenset({'SV', 'OCC', 'MB', 'FM', 'OPR', 'OV', 'LR'})

Where each benchmark's attributes come from (facts of the benchmark, with
their source written in the tables):

* OTB (11: IV, SV, OCC, DEF, MB, FM, IPR, OPR, OV, BC, LR): shipped in
  `tables/otb_attributes.csv`; 'otb2013' has the OTB-2013 toolkit's
  (CVPR'13) attributes, 'otb100', 'otb50' and 'otb' (a folder of OTB
  sequences, matched by name) the OTB website's TB-100 ones. The two differ
  for some sequences (Crossing: SV, DEF, BC in 2013; SV, DEF, FM, OPR, BC in
  TB-100), as the two papers do.
* LaSOT test split (14: IV, POC, DEF, MB, CM, ROT, BC, VC, SV, FOC, FM,
  OV, LR, ARC): shipped in `tables/lasot_attributes.csv` (the LaSOT
  evaluation toolkit's `annos/att/`); the dataset download has no
  attribute files. LaSOT-ext has none here.
* UAV123, UAV20L, UAV123@10fps (12: SV, ARC, LR, FM, FOC, POC, OV, BC, IV,
  VC, CM, SOB): read from the download, `anno/<UAV123|UAV20L|
  UAV123_10fps>/att/<seq>.txt`, one line of 12 0/1 flags in the UAV123
  toolkit's order (its `perfPlot.m` `attName`, the header of the
  download's `DatasetAnnotation.pdf`).

Attributes with no sequence in the root are left out with one warning line
(`AttributeWarning`), as are sequences without attributes ('otb', any
folder of OTB-layout sequences, says nothing when none is an OTB one).
"""

import dataclasses
import pathlib
import re
from typing import Mapping, Sequence
import warnings

from siamfc_jax.data import sequences
from siamfc_jax.data.datasets import files
from siamfc_jax.data.datasets import uav

# (abbreviation, name) in each family's published order.
OTB = (("IV", "Illumination Variation"), ("SV", "Scale Variation"),
       ("OCC", "Occlusion"), ("DEF", "Deformation"), ("MB", "Motion Blur"),
       ("FM", "Fast Motion"), ("IPR", "In-Plane Rotation"),
       ("OPR", "Out-of-Plane Rotation"), ("OV", "Out-of-View"),
       ("BC", "Background Clutters"), ("LR", "Low Resolution"))
# LaSOT toolkit att_name / att_fig_name (its 'Aspect Ration Change' typo
# mended).
LASOT = (("IV", "Illumination Variation"), ("POC", "Partial Occlusion"),
         ("DEF", "Deformation"), ("MB", "Motion Blur"),
         ("CM", "Camera Motion"), ("ROT", "Rotation"),
         ("BC", "Background Clutter"), ("VC", "Viewpoint Change"),
         ("SV", "Scale Variation"), ("FOC", "Full Occlusion"),
         ("FM", "Fast Motion"), ("OV", "Out-of-View"),
         ("LR", "Low Resolution"), ("ARC", "Aspect Ratio Change"))
# UAV123 toolkit perfPlot.m attName / attFigName.
UAV = (("SV", "Scale Variation"), ("ARC", "Aspect Ratio Change"),
       ("LR", "Low Resolution"), ("FM", "Fast Motion"),
       ("FOC", "Full Occlusion"), ("POC", "Partial Occlusion"),
       ("OV", "Out-of-View"), ("BC", "Background Clutter"),
       ("IV", "Illumination Variation"), ("VC", "Viewpoint Change"),
       ("CM", "Camera Motion"), ("SOB", "Similar Object"))
# benchmark -> (family's attributes, table key or None for the download).
SOURCES = {"otb": (OTB, "otb100"), "otb50": (OTB, "otb100"),
           "otb100": (OTB, "otb100"), "otb2013": (OTB, "otb2013"),
           "lasot": (LASOT, "lasot"), "uav123": (UAV, None),
           "uav20l": (UAV, None), "uav123_10fps": (UAV, None)}
UAV_ATTRIBUTE_FOLDER = "att"  # under anno/<benchmark folder>/


class AttributeWarning(UserWarning):
  """Attributes or sequences left out of the attribute analysis."""


@dataclasses.dataclass(frozen=True)
class Attributes:
  """The attributes of one benchmark's sequences in a root.

  Attributes:
    benchmark: the benchmark name ('otb100', 'lasot', ...).
    names: (abbreviation, name) of the attributes that some sequence of the
      root has, in the benchmark's order.
    of: sequence name -> the abbreviations it has (sequences without any
      annotation are absent).
  """

  benchmark: str
  names: tuple[tuple[str, str], ...]
  of: Mapping[str, frozenset[str]]

  def sequences(self, abbreviation: str) -> list[str]:
    """Names of the sequences with an attribute, sorted."""
    return sorted(n for n, a in self.of.items() if abbreviation in a)


def _flags(row: Sequence[str], family, where: str) -> frozenset[str]:
  if len(row) != len(family) or any(v not in ("0", "1") for v in row):
    raise ValueError(f"{where}: expected {len(family)} 0/1 flags "
                     f"({', '.join(a for a, _ in family)}), got {row}")
  return frozenset(a for (a, _), v in zip(family, row) if v == "1")


def table(key: str) -> dict[str, frozenset[str]]:
  """Sequence -> attributes of a shipped table ('otb2013', 'otb100',
  'lasot')."""
  if key == "lasot":
    lines = files.table_lines("lasot_attributes.csv")[1:]
    return {line.split(",")[0]: _flags(
        line.split(",")[1:], LASOT, f"lasot_attributes.csv: {line}")
            for line in lines}
  found = {}
  for line in files.table_lines("otb_attributes.csv")[1:]:
    bench, name, *row = line.split(",")
    if bench == key:
      found[name] = _flags(row, OTB, f"otb_attributes.csv: {line}")
  if not found:
    raise ValueError(f"no attribute table {key!r}")
  return found


def read_uav_file(path: pathlib.Path) -> frozenset[str]:
  """The attributes of one UAV123 `att/<seq>.txt` file (12 0/1 flags).

  Raises:
    ValueError: not 12 0/1 values (naming the file).
  """
  tokens = [t for t in re.split(r"[,\s]+", path.read_text()) if t]
  try:
    values = [float(t) for t in tokens]
  except ValueError:
    values = []
  if len(values) != len(UAV) or any(v not in (0, 1) for v in values):
    raise ValueError(f"{path}: expected {len(UAV)} 0/1 attribute flags "
                     f"({', '.join(a for a, _ in UAV)})")
  return frozenset(a for (a, _), v in zip(UAV, values) if v == 1)


def _uav(benchmark: str, root: pathlib.Path,
         names: Sequence[str]) -> dict[str, frozenset[str]]:
  folder = (pathlib.Path(root) / "anno" / uav.FOLDERS[benchmark][0] /
            UAV_ATTRIBUTE_FOLDER)
  return {n: read_uav_file(folder / f"{n}.txt") for n in names
          if (folder / f"{n}.txt").is_file()}


def _otb_key(seq: sequences.Sequence) -> list[str]:
  """Names a sequence may have in a table: its own, and for a folder read
  as one target of several (OTB-100's Human4, target 2) `<folder>.<t>`."""
  keys = [seq.name]
  target = seq.meta.get("target")
  if target is not None and "." not in seq.name:
    keys.append(f"{seq.name}.{target}")
  return keys


def read(benchmark: str, root, seqs: Sequence[sequences.Sequence]
         ) -> Attributes | None:
  """The attributes of `seqs` (read from `root`) for a benchmark.

  Args:
    benchmark: a benchmark name (`datasets.BENCHMARKS`).
    root: the dataset folder (UAV benchmarks read `anno/*/att/` there).
    seqs: the sequences of the root, as read.

  Returns:
    The attributes, or None when the benchmark has none here (GOT-10k, VOT,
    NfS, ...) or none of `seqs` is annotated (a warning says so, except
    for 'otb').

  Raises:
    ValueError: a malformed attribute file.
  """
  if benchmark not in SOURCES:
    return None
  family, key = SOURCES[benchmark]
  if key is None:
    known = _uav(benchmark, root, [s.name for s in seqs])
  else:
    shipped = table(key)
    known = {}
    for seq in seqs:
      match = next((k for k in _otb_key(seq) if k in shipped), None)
      if match is not None:
        known[seq.name] = shipped[match]
  where = (f"anno/{uav.FOLDERS[benchmark][0]}/{UAV_ATTRIBUTE_FOLDER}/"
           if key is None else "the attribute table")
  if not known:
    if benchmark == "otb":  # any folder: attributes only for OTB's names
      return None
    warnings.warn(f"{benchmark}: no sequence of {root} has attributes "
                  f"(in {where}): no attribute analysis", AttributeWarning,
                  stacklevel=2)
    return None
  missing = [s.name for s in seqs if s.name not in known]
  if missing:
    warnings.warn(f"{benchmark}: {len(missing)} of {len(seqs)} sequences "
                  f"have no attributes (in {where}; e.g. {missing[0]}): "
                  "they are in no attribute's scores", AttributeWarning,
                  stacklevel=2)
  present = set().union(*known.values())
  absent = [f"{a} ({n})" for a, n in family if a not in present]
  if absent:
    warnings.warn(f"{benchmark}: no sequence of {root} has "
                  f"{', '.join(absent)}: left out of the attribute analysis",
                  AttributeWarning, stacklevel=2)
  return Attributes(benchmark, tuple((a, n) for a, n in family
                                     if a in present), known)
