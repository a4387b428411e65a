"""The protocol table: how each benchmark is run, stored and scored.

One entry per benchmark name (the `--dataset` values of
`experiments.evaluate`, the keys of `siamfc_jax.data.datasets.BENCHMARKS`):

* `results_dir`: the folder under `<output>/results/` and
  `<output>/reports/`, named as the got10k toolkit 0.1.3 names it where it
  has the experiment (`ExperimentOTB` 'OTB<version>', `ExperimentUAV123`
  'UAV123' / 'UAV20L', `ExperimentNfS` 'NfS/<fps>', `ExperimentTColor128`,
  `ExperimentDTB70`, `ExperimentGOT10k`, `ExperimentVOT`), so its `report`
  finds our files. 'otb' (any folder of OTB-layout sequences) keeps 'OTB';
  the toolkit's own 'OTB2015' is the 'otb100' entry (its 'tb100' list is
  the same 100 sequences).
* `kind`: 'ope' (one pass from the first box, OTB-style files and scores),
  'got10k' or 'vot'.
* `absent`: how frames without a visible target are scored (OPE only):
  'exclude' leaves NaN ground-truth rows out of every mean (got10k
  `ExperimentUAV123._calc_metrics`; OTB, NfS, TC-128 and DTB70 have no such
  rows); 'miss' counts every frame flagged absent (`meta["absent"]`) or
  without ground truth as a miss at every threshold, all frames in the
  denominator (the LaSOT toolkit's `calc_seq_err_robust.m` / `eval_tracker.m`
  and pytracking's `calc_seq_err_robust` for 'lasot').
* `norm_precision`: normalised precision is reported (all OPE benchmarks;
  LaSOT and TrackingNet rank by it).
* `submission`: results of sequences without ground truth are also packed as
  the benchmark's evaluation-server zip (TrackingNet test).
* `server_scores`: reports also carry the scores as the benchmark's server
  computes them (`metrics.trackingnet_report`: TrackingNet train splits
  scored the way the server scores the test split).
"""

from __future__ import annotations

import dataclasses

KINDS = ("ope", "got10k", "vot")
ABSENT_RULES = ("exclude", "miss")


@dataclasses.dataclass(frozen=True)
class Protocol:
  """One benchmark's protocol (see the module docstring).

  Attributes:
    name: the benchmark name ('otb', 'lasot', ...).
    results_dir: folder under `results/` and `reports/` ('OTB', 'NfS/30').
    kind: 'ope', 'got10k' or 'vot'.
    absent: 'exclude' or 'miss' (OPE scoring of absent frames).
    norm_precision: whether reports carry normalised precision.
    submission: whether unannotated results are zipped for a server.
    server_scores: whether reports add the TrackingNet server's scores.
    title: the benchmark's name in tables and plots.
  """

  name: str
  results_dir: str
  kind: str
  absent: str = "exclude"
  norm_precision: bool = True
  submission: bool = False
  server_scores: bool = False
  title: str = ""

  def __post_init__(self):
    if self.kind not in KINDS:
      raise ValueError(f"{self.name}: kind must be one of {KINDS}, got "
                       f"{self.kind!r}")
    if self.absent not in ABSENT_RULES:
      raise ValueError(f"{self.name}: absent must be one of {ABSENT_RULES}, "
                       f"got {self.absent!r}")


def _ope(name: str, results_dir: str, title: str, **kwargs) -> Protocol:
  return Protocol(name, results_dir, "ope", title=title, **kwargs)


PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (
    _ope("otb", "OTB", "OTB"),
    _ope("otb2013", "OTB2013", "OTB-2013"),
    _ope("otb50", "OTBtb50", "OTB-50"),
    _ope("otb100", "OTB2015", "OTB-100"),
    # got10k 0.1.3 has a LaSOT reader but no experiment: names of our own.
    _ope("lasot", "LaSOT", "LaSOT", absent="miss"),
    _ope("lasot_ext", "LaSOT_ext", "LaSOT-ext", absent="miss"),
    _ope("uav123", "UAV123", "UAV123"),
    _ope("uav20l", "UAV20L", "UAV20L"),
    _ope("uav123_10fps", "UAV123_10fps", "UAV123@10fps"),
    _ope("trackingnet", "TrackingNet", "TrackingNet", submission=True,
         server_scores=True),
    _ope("nfs", "NfS/30", "NfS (30 fps)"),
    _ope("nfs240", "NfS/240", "NfS (240 fps)"),
    _ope("tc128", "TColor128", "TC-128"),
    _ope("dtb70", "DTB70", "DTB70"),
    Protocol("vot", "VOT", "vot", norm_precision=False, title="VOT"),
    Protocol("got10k", "GOT-10k", "got10k", norm_precision=False,
             title="GOT-10k"),
)}


def get(name: str) -> Protocol:
  """The protocol of a benchmark name.

  Raises:
    ValueError: an unknown name (the message lists the known ones).
  """
  if name not in PROTOCOLS:
    raise ValueError(f"protocol must be one of {tuple(PROTOCOLS)}, got "
                     f"{name!r}")
  return PROTOCOLS[name]
