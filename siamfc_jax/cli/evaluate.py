r"""Evaluates a tracker on a benchmark's dataset folder.

  siamfc-jax evaluate --dataset=otb --root=path/to/OTB100
  siamfc-jax evaluate --dataset=got10k --root=path/to/GOT-10k/val \
      --checkpoint=runs/siamfc/ckpt
  siamfc-jax evaluate --dataset=vot --root=path/to/vot2016
  siamfc-jax evaluate --dataset=otb --root=... --random_init
  siamfc-jax evaluate --root=path/to/LaSOT   # layout detected

--dataset is one of siamfc_jax/data/datasets BENCHMARKS (otb, otb2013,
otb50, otb100, lasot, lasot_ext, uav123, uav20l, uav123_10fps, trackingnet,
nfs, nfs240, tc128, dtb70, vot, got10k); without it the layout of --root is
detected: one match is used (and named), none or several stop with the
layouts found.

With --multihost (siamfc_jax/cli/multihost.py) every process tracks its share
of the sequences on its own devices and process 0 writes the one report
(siamfc_jax/evaluation/distributed.py); --output must be a folder every
process sees. Lock-step batches (jax backend) use every local device
(sharding.py).

Tracks every sequence of --root that has no result file yet (so a second run
only re-scores; results that another tracker of the same name made, with
other weights or settings, are refused: pick another --name or --overwrite),
writes the results in the got10k toolkit's layout under
--output/results/, prints a table per sequence and overall, and writes
--output/reports/<OTB|GOT-10k|VOT>/<tracker>/report.json with success and
precision plots. Trackers evaluated earlier into the same --output on the
same sequences are drawn in the plots too. See
siamfc_jax/evaluation/protocols.py for the layouts and the scores.

Each sequence's results are written as soon as it is tracked (a lock-step
batch's when the batch ends): a run that is stopped keeps them, and the next
run tracks only the rest. On a terminal a bar shows the frames tracked.

Other trackers' raw results (siamfc_jax/evaluation/external.py: OTB,
got10k, pysot and pytracking <seq>.txt files, GOT-10k and VOT toolkit
<seq>/<seq>_001.txt files) are scored beside ours with --results=NAME=DIR
(repeatable; --results_only does not run our tracker): one table, plots with
every tracker, a report.json each. OTB, LaSOT and UAV benchmarks add one
plot per attribute and the attribute table; --table=latex|markdown writes
the comparison for a paper (siamfc_jax/evaluation/comparison.py).

  siamfc-jax evaluate --dataset=otb100 --root=path/to/OTB100 \
      --results=SiamRPN=path/to/SiamRPN --results_only --table=latex
"""

import sys

from absl import app
from absl import flags
import jax
import tqdm

from siamfc_jax.cli import precision
from siamfc_jax.cli import multihost
from siamfc_jax import embedding
from siamfc_jax import model
from siamfc_jax import sharding
from siamfc_jax import tracker as tracker_lib
from siamfc_jax import tracking
from siamfc_jax.data import datasets
from siamfc_jax.data.datasets import attributes
from siamfc_jax.evaluation import comparison
from siamfc_jax.evaluation import distributed
from siamfc_jax.evaluation import external
from siamfc_jax.evaluation import metrics
from siamfc_jax.evaluation import protocols
from siamfc_jax.evaluation import tables

_DATASET = flags.DEFINE_enum(
    "dataset", None, list(datasets.BENCHMARKS),
    "Benchmark (its reader and protocol): "
    + "; ".join(f"{b.name}: {b.description}"
                for b in datasets.BENCHMARKS.values())
    + ". Default: detected from the layout of --root.")
_ROOT = flags.DEFINE_string(
    "root", None, "Dataset folder in the benchmark's own layout (OTB, VOT, "
    "GOT-10k: one subfolder per sequence, a list.txt, if present, naming "
    "them; OTB and VOT layouts may be mixed for otb and vot).")
_CHECKPOINT = flags.DEFINE_string(
    "checkpoint", None, "Checkpoint directory, or a weights file (.mat, "
    ".npz, .pth; e.g. a CFNet .mat, its _gray_ twin found beside it); "
    "default: the bundled original SiamFC network.")
_PRESET = flags.DEFINE_enum(
    "preset", "siamfc-3s", sorted(tracking.PRESETS),
    "Tracking hyper-parameters of the bundled or untrained network; with "
    "--checkpoint only when given (else those saved in the checkpoint, or "
    "named by the weights file).")
_TRACK = flags.DEFINE_string(
    "track", "", "Changes to the tracking hyper-parameters, e.g. "
    "'z_lr=0,context_input_size=255' (siamfc_jax/tracking.py TrackParams).")
_NAME = flags.DEFINE_string(
    "name", None, "Tracker name (its results folder); default: the "
    "checkpoint's or preset's name.")
_RANDOM_INIT = flags.DEFINE_bool(
    "random_init", False, "Evaluate an untrained, randomly initialised "
    "network (named 'untrained'), a baseline for the trained ones.")
_SEED = flags.DEFINE_integer("seed", 0, "PRNG seed of --random_init.")
_BACKEND = flags.DEFINE_enum(
    "backend", "auto", ["auto", "jax", "onnxruntime"],
    "Where the tracking steps run; auto: ONNX Runtime on CPU when it is "
    "installed, else JAX. Lock-step batches (--batch) need jax; with "
    "onnxruntime the sequences run one at a time.")
_OUTPUT = flags.DEFINE_string(
    "output", "eval_output", "Folder for results/ and reports/.")
_BATCH = flags.DEFINE_integer(
    "batch", protocols.DEFAULT_BATCH, "Most sequences tracked at once in "
    "lock-step (OTB, GOT-10k; jax backend), sharded over every local device "
    "(rounded up to a multiple of their number); lower it if memory runs "
    "out.",
    lower_bound=1)
_OVERWRITE = flags.DEFINE_bool(
    "overwrite", False, "Re-track sequences that already have results.")
_MAX_FRAMES = flags.DEFINE_integer(
    "max_frames", None, "Use only the first N frames of each sequence (a "
    "quick check; scores differ from the full benchmark).", lower_bound=1)
_EAO_YEAR = flags.DEFINE_enum(
    "eao_year", "2017", [str(y) for y in metrics.EAO_INTERVALS],
    "VOT challenge whose EAO interval of sequence lengths to use.")

_WAIT_TIMEOUT = flags.DEFINE_float(
    "wait_timeout", distributed.WAIT_TIMEOUT, "With --multihost: seconds "
    "process 0 waits, after its own share, for the result files of the "
    "others.", lower_bound=0)

_RESULTS = flags.DEFINE_multi_string(
    "results", [], "NAME=DIR: another tracker's raw results to score beside "
    "ours (repeatable): DIR/<seq>.txt or DIR/<seq>/<seq>_001.txt, boxes in "
    "the annotation's coordinates (siamfc_jax/evaluation/external.py).")
_RESULTS_ONLY = flags.DEFINE_bool(
    "results_only", False, "Score only the --results folders; do not run "
    "our tracker.")
_TABLE = flags.DEFINE_enum(
    "table", None, ["latex", "markdown"], "Also write the comparison table "
    "(overall and per attribute; best bold, second underlined) to the "
    "report folder.")

flags.mark_flags_as_required(["root"])


def parse_results(values: list[str]) -> dict[str, str]:
  """--results values NAME=DIR -> {NAME: DIR} (one-line errors)."""
  found = {}
  for value in values:
    name, sep, folder = value.partition("=")
    if not sep or not name or not folder:
      raise app.UsageError(f"--results={value}: expected NAME=DIR")
    if name in found:
      raise app.UsageError(f"--results: {name} given twice")
    found[name] = folder
  if _RESULTS_ONLY.value and not found:
    raise app.UsageError("--results_only needs --results=NAME=DIR")
  return found


def make_tracker() -> tracker_lib.Tracker:
  """The tracker the flags ask for."""
  tracker = _base_tracker()
  if _TRACK.value:
    tracker = tracker_lib.Tracker(
        tracker.spec, tracker.variables, tracker.params.override(_TRACK.value),
        tracker.name, tracker.backend.name, tracker.gray_variables,
        tracker.precision, tracker.calibration)
  if _NAME.value:
    tracker.name = _NAME.value
  return tracker


def _base_tracker() -> tracker_lib.Tracker:
  if _RANDOM_INIT.value:
    if _CHECKPOINT.value:
      raise app.UsageError("--random_init and --checkpoint exclude each other")
    spec = embedding.alexnet_spec()
    variables = model.init(spec, jax.random.key(_SEED.value))
    return tracker_lib.Tracker(
        spec, variables, tracking.PRESETS[_PRESET.value],
        name=tracker_lib.default_name("untrained", precision.PRECISION.value),
        backend=_BACKEND.value, precision=precision.PRECISION.value,
        calibration=precision.CALIBRATION.value)
  preset = _PRESET.value if flags.FLAGS["preset"].present else None
  return tracker_lib.load(_CHECKPOINT.value, preset, _BACKEND.value,
                          precision.PRECISION.value,
                          precision.CALIBRATION.value)


def _log(line: str) -> None:
  # tqdm.write clears the progress bar (if any), prints, then redraws it.
  tqdm.tqdm.write(line, file=sys.stderr)
  sys.stderr.flush()


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  multihost.initialize()
  benchmark = datasets.choose(_DATASET.value, _ROOT.value, _log)
  try:
    seqs = datasets.read(benchmark, _ROOT.value)
  except (FileNotFoundError, ValueError) as e:
    raise app.UsageError(f"--root: {e}") from None
  others = parse_results(_RESULTS.value)
  seqs = [protocols.truncate(s, _MAX_FRAMES.value) for s in seqs]
  attrs = attributes.read(benchmark, _ROOT.value, seqs)
  tracker = None
  if not _RESULTS_ONLY.value:
    tracker = make_tracker()
    if tracker.name in others:
      raise app.UsageError(f"--results={tracker.name}=...: that is our "
                           "tracker's name (--name)")
  scored = []
  if jax.process_index() == 0:  # process 0 writes every report
    # Before tracking: bad results stop the command before hours of it.
    for name, folder in others.items():
      scored.append(external.evaluate(
          name, folder, seqs, benchmark, _OUTPUT.value, attrs,
          _MAX_FRAMES.value, metrics.EAO_INTERVALS[int(_EAO_YEAR.value)])[0])
      _log(f"{name}: scored the results of {folder}")
  if tracker is None:
    lead = scored[0]
  else:
    lead = _evaluate_ours(tracker, seqs, benchmark)
    if lead is None:
      return
  found = comparison.compare(lead, _OUTPUT.value, attrs, _TABLE.value)
  if len(found.reports) > 1 or lead.get("attributes"):
    print(tables.comparison(found.reports, "text"), end="")
  print(f"Report: {found.report_file}")
  for path in found.plots:
    print(f"Plot: {path}")
  if found.table is not None:
    print(f"Table: {found.table}")


def _evaluate_ours(tracker, seqs, benchmark):
  """Tracks and scores ours; its report, or None off process 0."""
  frames = sum(len(s) for s in seqs)
  _log(f"Evaluating {tracker.name} ({tracker.backend.name} backend, "
       f"{tracker.precision}) on {len(seqs)} sequences ({frames} frames) of "
       f"{_ROOT.value}, {benchmark} protocol")
  _log(f"Devices: {sharding.describe()}"
       + ("" if tracker.backend.name == "jax" else
          " (lock-step batches need the jax backend: one sequence at a "
          "time)"))
  try:
    result = distributed.evaluate(
        tracker, seqs, benchmark, _OUTPUT.value,  # protocol of that name
        process=(jax.process_index(), jax.process_count()),
        timeout=_WAIT_TIMEOUT.value, batch_size=_BATCH.value,
        overwrite=_OVERWRITE.value, max_frames=_MAX_FRAMES.value,
        eao_interval=metrics.EAO_INTERVALS[int(_EAO_YEAR.value)], log=_log,
        progress_bar=True)
  except (ValueError, TimeoutError) as e:  # e.g. another tracker's results
    raise app.UsageError(str(e)) from None
  if result is None:  # not process 0: its share is written
    print(f"Process {jax.process_index()}: results written under "
          f"{_OUTPUT.value}; process 0 writes the report")
    return None
  print(protocols.format_table(result.report))
  print(f"Results: {result.report['results_dir']}")
  return result.report

