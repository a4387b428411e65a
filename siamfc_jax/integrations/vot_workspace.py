"""A ready VOT-toolkit workspace from sequence folders, in one call.

    python -m experiments.vot_workspace --root=DIR --workspace=ws
    cd ws && vot evaluate SiamFC_JAX && vot analysis SiamFC_JAX

`build` reads `root` with our readers (one sequence folder of any layout
`sequences.detect_layout` knows, or a benchmark root of `datasets`: VOT,
OTB, LaSOT, ...), so the ground truth is matched to the frames by the one
rule of `sequences.match_lengths` (warned with `GroundTruthWarning`), and
writes the workspace of vot-toolkit 0.9.0:

    ws/config.yaml        stack: stack.yaml, registry: [./trackers.ini]
    ws/trackers.ini       the tracker SiamFC_JAX (`vot.py`)
    ws/stack.yaml         the stack's supervised experiment, run by
                          `vot_supervised.SupervisedExperiment`
    ws/sequences/list.txt
    ws/sequences/NAME/sequence          name, fps, format, channels.color
    ws/sequences/NAME/groundtruth.txt   one region per frame
    ws/sequences/NAME/color/00000001.jpg -> the frame (symbolic links)
    ws/sequences/NAME/TAG.tag           VOT's per-frame tags, one per frame
    ws/results/
    ws/siamfc_workspace.json  what was built; marks a workspace of ours

Why the ground truth is written again rather than linked: the toolkit reads
every line of `groundtruth.txt` and never compares the count with the
frames. A real VOT2015 download ships car1 with 742 lines for 252 frames;
`vot evaluate` runs, then `vot analysis` fails ("List not of the same size
252 != 742") and still exits 0. The workspace holds one line per frame,
the regions as read: polygons stay polygons and rectangles rectangles (the
toolkit rasterises them differently), other layouts' boxes are written as
0-based `x,y,w,h` rectangles, every number as the shortest text that reads
back as the same float64.

The toolkit's supervised experiment judges every frame against its ground
truth and re-initialises from it, so a sequence with an unannotated frame
(fewer lines than frames, an absent target) is refused.

The trackers.ini section is the README's. Run from a checkout (this
package's folder sits beside a pyproject.toml), it adds `paths = the
checkout`, which the toolkit puts on the tracker's PYTHONPATH; from an
installed package it needs none. The tracker runs in the python of `vot`,
so siamfc_jax must import there either way.

Repetitions. The toolkit's VOT stacks ask for 15 runs per sequence; a
deterministic tracker's runs are equal, and the toolkit stops after three
equal ones, so 15 cost three runs and give the numbers of one. `build`
writes 1 unless asked for more.

A workspace is rebuilt in place when it holds `siamfc_workspace.json`, or
with `overwrite`: config.yaml, trackers.ini, stack.yaml and sequences/ are
replaced and the toolkit's cache/ removed (its analyses of the old
sequences); results/ and analysis/ are kept (`Built.kept`), and the toolkit
reuses results it finds, so delete results/SiamFC_JAX after changing the
sequences or the tracker. Any other non-empty folder is refused.

Nothing here imports the toolkit.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import re
import shlex
import shutil
from typing import Any, Callable, Sequence
import uuid

import numpy as np

from siamfc_jax import tracking
from siamfc_jax.data import datasets
from siamfc_jax.data import sequences
from siamfc_jax.integrations import vot

# The file that marks (and describes) a workspace built here.
MARKER = "siamfc_workspace.json"
# What `build` writes, hence replaces on a rebuild.
BUILT = ("config.yaml", "trackers.ini", "stack.yaml", "sequences", MARKER)
# The toolkit's cache of analyses; stale once the sequences change.
CACHE = "cache"
# The experiment class to name in a stack (see vot_supervised.py).
EXPERIMENT = "siamfc_jax.integrations.vot_supervised.SupervisedExperiment"
FPS = 30  # the `sequence` file's default in the toolkit, and VOT's
DEFAULT_STACK = "vot2015"
DEFAULT_REPETITIONS = 1  # enough for a deterministic tracker (docstring)

_AR = {"type": "supervised_average_ar", "sensitivity": 30}
_FAILURES = {"type": "cumulative_failures"}
_CURVE = {"type": "supervised_eao_curve"}


def _eao(low: int, high: int) -> dict[str, Any]:
  return {"type": "supervised_eao_score", "low": low, "high": high}


# The supervised ("baseline") experiment of the toolkit's VOT stacks, as in
# vot-toolkit 0.9.0's vot/stack/<TOOLKIT_STACKS[name]>.yaml (15 repetitions,
# 5 frames skipped after a failure, the analyses and their parameters); the
# `type` and `repetitions` are set by `stack`. Their other experiments
# (unsupervised, realtime) are left out.
STACKS: dict[str, dict[str, Any]] = {
    "vot2013": {"title": "VOT2013 challenge", "analyses": [_AR]},
    "vot2014": {"title": "VOT2014 challenge", "analyses": [_AR, _FAILURES]},
    "vot2015": {"title": "VOT2015 challenge",
                "analyses": [_AR, _eao(108, 371), _CURVE]},
    "vot2016": {"title": "VOT2016 challenge",
                "analyses": [_AR, _FAILURES, _eao(108, 371), _CURVE]},
    "vot2017": {"title": "VOT2017 challenge",
                "analyses": [_AR, _FAILURES, _eao(100, 356), _CURVE]},
    "vot2018": {"title": "VOT-ST2018 challenge",
                "analyses": [_AR, _eao(100, 356), _CURVE]},
    "vot2019": {"title": "VOT-ST2019 challenge",
                "analyses": [_AR, _eao(46, 291), _CURVE]},
}
# The toolkit's stack each is taken from (`vot.stack.resolve_stack` names).
TOOLKIT_STACKS = {"vot2013": "vot2013", "vot2014": "vot2014",
                  "vot2015": "vot2015/rgb", "vot2016": "vot2016/rgb",
                  "vot2017": "vot2017", "vot2018": "vot2018/shortterm",
                  "vot2019": "vot2019/shortterm"}
STACK_REPETITIONS = 15  # in every stack above
STACK_SKIP = 5  # skip_initialize, in every stack above


@dataclasses.dataclass(frozen=True)
class Built:
  """What `build` wrote.

  Attributes:
    workspace: the workspace folder (absolute).
    sequences: (name, frames) of each sequence, in list.txt's order.
    stack: the `STACKS` name.
    repetitions: runs per sequence asked of the toolkit.
    checkout: the checkout on the tracker's PYTHONPATH (`paths`), or None
      for an installed package.
    kept: what was in the folder before and is kept (results/, ...).
  """

  workspace: pathlib.Path
  sequences: tuple[tuple[str, int], ...]
  stack: str
  repetitions: int
  checkout: pathlib.Path | None
  kept: tuple[str, ...] = ()


def checkout_root() -> pathlib.Path | None:
  """The checkout siamfc_jax runs from, or None when it is installed.

  A checkout is the folder above the package when it holds the project's
  pyproject.toml (an editable install counts: its package is the
  checkout's); an installed package sits in site-packages, which has none.
  """
  root = pathlib.Path(__file__).resolve().parents[2]
  if (root / "pyproject.toml").is_file() and (
      root / "siamfc_jax" / "__init__.py").is_file():
    return root
  return None


def read_root(root: os.PathLike | str, dataset: str | None = None,
              log: Callable[[str], None] = print) -> list[sequences.Sequence]:
  """The sequences of `root`: one sequence folder, or a benchmark root.

  Args:
    root: a sequence folder (`sequences.detect_layout`: VOT, OTB, GOT-10k)
      or a folder of sequences of a benchmark `datasets` knows.
    dataset: the benchmark's name (`datasets.BENCHMARKS`) when its layout
      is ambiguous; default: detected (a sequence folder, else
      `datasets.choose`).
    log: told which layout was detected.

  Returns:
    The sequences, ground truth matched to the frames
    (`sequences.match_lengths`, which warns on a mismatch).

  Raises:
    FileNotFoundError: no such folder, or no sequences in it.
    NotADirectoryError: `root` is a file.
    ValueError: no known layout (or several), malformed files.
  """
  root = pathlib.Path(root)
  if root.exists() and not root.is_dir():
    raise NotADirectoryError(f"{root}: not a folder (expected a sequence "
                             "folder or a folder of sequences)")
  if not root.exists():
    raise FileNotFoundError(f"{root}: no such folder (expected a sequence "
                            "folder or a folder of sequences)")
  layout = sequences.detect_layout(root) if dataset is None else None
  if layout is not None:
    log(f"{root} is a sequence folder of the {layout} layout")
  if layout == "otb":
    return [sequences.read_otb(root, t) for t in sequences.otb_targets(root)]
  if layout is not None:
    return [sequences.read_sequence(root)]
  return datasets.read(datasets.choose(dataset, root, log), root)


def _number(value: float) -> str:
  """The shortest text that reads back as the same float64 ('nan' too)."""
  value = float(value)
  return "nan" if np.isnan(value) else repr(value)


def _region_lengths(seq: sequences.Sequence) -> np.ndarray:
  """[N] values per ground-truth region as written: 8 for a VOT polygon
  line, 4 for a rectangle (a VOT 4-value line, any other layout's box)."""
  n = len(seq)
  if seq.meta.get("format") != "vot":
    return np.full(n, 4)
  # The reader kept the polygons, not which lines were rectangles: the
  # toolkit rasterises a rectangle w wide over w pixels, a polygon over
  # w + 1, so each line keeps its kind.
  _, lengths = sequences.read_numbers(seq.meta["gt_file"], (4, 8),
                                      return_counts=True)
  return np.concatenate([lengths[:n], np.full(max(n - len(lengths), 0), 4)])


def groundtruth_text(seq: sequences.Sequence) -> str:
  """The toolkit's groundtruth.txt of a sequence: one region per frame.

  Args:
    seq: a sequence whose every frame is annotated (`check_sequence`).

  Returns:
    N lines, `x1,y1,...,x4,y4` (a VOT polygon, 0-based, as read) or
    `x,y,w,h` (a rectangle: a VOT 4-value line as read, any other layout's
    box in the convention of `siamfc_jax.boxes`, 0-based).
  """
  lines = []
  polygons = seq.meta.get("polygons")
  for i, length in enumerate(_region_lengths(seq)):
    row = polygons[i] if length == 8 else seq.boxes[i]
    lines.append(",".join(_number(v) for v in row))
  return "\n".join(lines) + "\n"


def frame_suffix(seq: sequences.Sequence) -> str:
  """The one file suffix of a sequence's frames, lower case ('.jpg').

  Raises:
    ValueError: the frames have several suffixes (the toolkit's channel is
      one file pattern).
  """
  suffixes = sorted({pathlib.Path(f).suffix.lower() for f in seq.frames})
  if len(suffixes) != 1:
    raise ValueError(
        f"{pathlib.Path(seq.frames[0]).parent}: frames of several kinds "
        f"({', '.join(suffixes)}); the toolkit reads one file pattern")
  return suffixes[0]


def sequence_text(seq: sequences.Sequence) -> str:
  """The toolkit's `sequence` file: name, fps, format and colour channel."""
  return (f"name={seq.name}\nfps={FPS}\nformat=default\n"
          f"channels.color=color/%08d{frame_suffix(seq)}\n")


def frame_links(seq: sequences.Sequence) -> dict[str, pathlib.Path]:
  """`color/00000001.jpg` ... (relative to the sequence folder) -> the
  absolute path of each frame, in order."""
  suffix = frame_suffix(seq)
  return {f"color/{i + 1:08d}{suffix}": pathlib.Path(os.path.abspath(frame))
          for i, frame in enumerate(seq.frames)}


def tag_texts(seq: sequences.Sequence) -> dict[str, str]:
  """`NAME.tag` -> 0/1 per frame, of a VOT sequence's tags (cut or padded
  with the ground truth by the reader); {} for other layouts."""
  return {f"{name}.tag": "".join(f"{int(v)}\n" for v in flags)
          for name, flags in seq.meta.get("tags", {}).items()}


def check_sequence(seq: sequences.Sequence) -> None:
  """Refuses a sequence the toolkit's supervised experiment cannot run.

  Raises:
    ValueError: no box to start from, an unannotated frame or one whose
      target is absent (`meta['absent']`; the experiment judges every frame
      against the ground truth and re-initialises from it), frames of
      several kinds, or a name that is no folder name.
  """
  if not seq.name or seq.name in (".", "..") or "/" in seq.name or (
      os.sep in seq.name) or seq.name != seq.name.strip():
    raise ValueError(f"sequence name {seq.name!r} cannot name a folder")
  sequences.first_box(seq)
  missing = ~np.all(np.isfinite(seq.boxes), axis=1)
  if "absent" in seq.meta:  # LaSOT, NfS, ...: a box, but no target
    missing |= np.asarray(seq.meta["absent"], dtype=bool)
  if missing.any():
    where = seq.meta.get("gt_file") or f"sequence {seq.name}"
    raise ValueError(
        f"{where}: {missing.sum()} of {len(seq)} frames have no ground truth "
        f"or no target (first: frame {np.argmax(missing) + 1}); the VOT "
        "toolkit's supervised experiment needs a region in every frame")
  frame_suffix(seq)


def _scalar(value: Any) -> str:
  if isinstance(value, bool):
    return "true" if value else "false"
  if isinstance(value, int):
    return str(value)
  if isinstance(value, str) and re.fullmatch(r"[A-Za-z_][\w.]*", value) and (
      value.lower() not in ("true", "false", "yes", "no", "null", "on",
                            "off")):
    return value
  return json.dumps(value)  # a JSON string is a YAML double-quoted one


def _yaml_lines(mapping: dict[str, Any], indent: int = 0) -> list[str]:
  """Block-style YAML of nested dicts, lists of dicts and scalars."""
  pad = "  " * indent
  lines = []
  for key, value in mapping.items():
    if isinstance(value, dict):
      lines += [f"{pad}{key}:"] + _yaml_lines(value, indent + 1)
    elif isinstance(value, list):
      lines.append(f"{pad}{key}:")
      for item in value:
        first, *rest = _yaml_lines(item, indent + 2)
        lines += [f"{pad}  - {first.lstrip()}"] + rest
    else:
      lines.append(f"{pad}{key}: {_scalar(value)}")
  return lines


def stack(name: str = DEFAULT_STACK,
          repetitions: int = DEFAULT_REPETITIONS) -> dict[str, Any]:
  """The stack of `STACKS[name]` as the toolkit reads it (no `dataset`: the
  toolkit would download one; the sequences are the workspace's).

  Raises:
    ValueError: an unknown name, or repetitions < 1.
  """
  if name not in STACKS:
    raise ValueError(f"unknown stack {name!r}; expected one of "
                     f"{', '.join(STACKS)}")
  if repetitions < 1:
    raise ValueError(f"repetitions must be >= 1, got {repetitions}")
  return {"title": f"{STACKS[name]['title']}, the baseline experiment",
          "experiments": {"baseline": {
              "type": EXPERIMENT, "repetitions": repetitions,
              "skip_initialize": STACK_SKIP,
              "analyses": [dict(a) for a in STACKS[name]["analyses"]]}}}


def stack_text(name: str = DEFAULT_STACK,
               repetitions: int = DEFAULT_REPETITIONS) -> str:
  """stack.yaml of `stack(name, repetitions)`, with a comment on why."""
  return (f"# {STACKS[name]['title']}: its supervised experiment as in\n"
          f"# vot-toolkit 0.9.0's vot/stack/{TOOLKIT_STACKS[name]}.yaml, run "
          "by\n# siamfc_jax.integrations.vot_supervised (the toolkit's own "
          "class cannot\n# run TraX trackers). The stack asks for "
          f"{STACK_REPETITIONS} repetitions: a deterministic\n# tracker's "
          "runs are equal and the toolkit stops after three equal ones.\n" +
          "\n".join(_yaml_lines(stack(name, repetitions))) + "\n")


def trackers_text(checkout: pathlib.Path | None = None,
                  backend: str = "auto", checkpoint: str | None = None,
                  preset: str | None = None) -> str:
  """The trackers.ini section of the tracker `vot.TRACKER_NAME`.

  Args:
    checkout: a folder for the tracker's PYTHONPATH (`paths`), or None.
    backend: one of `vot.BACKENDS`.
    checkpoint: a checkpoint, workdir or weights file (made absolute);
      default: the bundled network.
    preset: a `tracking.PRESETS` name; default: the checkpoint's.

  Raises:
    ValueError: an unknown backend or preset.
    FileNotFoundError: no such checkpoint.
  """
  if backend not in vot.BACKENDS:
    raise ValueError(f"unknown backend {backend!r}; expected one of "
                     f"{', '.join(vot.BACKENDS)}")
  if preset is not None and preset not in tracking.PRESETS:
    raise ValueError(f"unknown preset {preset!r}; expected one of "
                     f"{', '.join(tracking.PRESETS)}")
  if checkpoint is None:  # the bundled network, SiamFC-3s unless told
    label = (preset or "siamfc-3s").replace("siamfc", "SiamFC")
  else:
    label = " ".join(filter(None, [pathlib.Path(checkpoint).name, preset]))
  lines = [f"[{vot.TRACKER_NAME}]", f"label = {label} (siamfc_jax)",
           "protocol = traxpython",
           "command = siamfc_jax.integrations.vot"]
  if checkout is not None:
    lines.append(f"paths = {pathlib.Path(checkout).absolute()}")
  # The first reply of each tracker process loads the network and
  # compiles its step (the toolkit waits 30 s by default).
  lines += ["timeout = 300", f"env_{vot.ENV_BACKEND} = {backend}"]
  if checkpoint is not None:
    path = pathlib.Path(checkpoint).absolute()
    if not path.exists():
      raise FileNotFoundError(f"{checkpoint}: checkpoint not found")
    lines.append(f"env_{vot.ENV_CHECKPOINT} = {path}")
  if preset is not None:
    lines.append(f"env_{vot.ENV_PRESET} = {preset}")
  return "\n".join(lines) + "\n"


def config_text() -> str:
  """config.yaml: the stack and tracker registry of the workspace."""
  return "stack: stack.yaml\nregistry:\n  - ./trackers.ini\n"


def check_workspace(workspace: os.PathLike | str, overwrite: bool = False
                    ) -> None:
  """Refuses a folder `build` must not write into.

  Absent, empty, or holding `MARKER` (built here) is fine; another
  non-empty folder only with `overwrite`.

  Raises:
    FileExistsError: `workspace` is a file, or a non-empty folder of
      another kind without `overwrite`.
  """
  workspace = pathlib.Path(workspace)
  if not workspace.exists():
    return
  if not workspace.is_dir():
    raise FileExistsError(f"{workspace} exists and is not a folder")
  if (workspace / MARKER).is_file() or overwrite:
    return
  if any(workspace.iterdir()):
    raise FileExistsError(
        f"{workspace} is not empty and is no workspace built here (no "
        f"{MARKER}); overwrite (--overwrite) replaces its "
        f"{', '.join(BUILT[:-1])}; or choose an empty folder")


def _check_outside(root: pathlib.Path, workspace: pathlib.Path) -> None:
  """Refuses a root inside the workspace's own sequences (rebuilding would
  delete the frames it links to)."""
  inner = (workspace / "sequences").resolve()
  resolved = root.resolve()
  if resolved == inner or inner in resolved.parents:
    raise ValueError(f"{root} is inside the workspace's sequences/ that "
                     "the build replaces; choose another --workspace")


def _write_sequences(folder: pathlib.Path,
                     seqs: Sequence[sequences.Sequence]) -> None:
  """sequences/ of the workspace, written into `folder` (new)."""
  folder.mkdir()
  (folder / "list.txt").write_text("".join(f"{s.name}\n" for s in seqs))
  for seq in seqs:
    where = folder / seq.name
    (where / "color").mkdir(parents=True)
    (where / "sequence").write_text(sequence_text(seq))
    (where / "groundtruth.txt").write_text(groundtruth_text(seq))
    for name, text in tag_texts(seq).items():
      (where / name).write_text(text)
    for link, frame in frame_links(seq).items():
      (where / link).symlink_to(frame)


def _replace(path: pathlib.Path, new: pathlib.Path) -> None:
  """Puts `new` (a file or folder) at `path`, removing what was there."""
  if path.is_dir() and not path.is_symlink():
    old = path.with_name(f".{path.name}.old-{uuid.uuid4().hex}")
    os.replace(path, old)
    os.replace(new, path)
    shutil.rmtree(old)
  else:
    os.replace(new, path)


def build(root: os.PathLike | str, workspace: os.PathLike | str,
          stack_name: str = DEFAULT_STACK,
          repetitions: int = DEFAULT_REPETITIONS, backend: str = "auto",
          checkpoint: str | None = None, preset: str | None = None,
          dataset: str | None = None, overwrite: bool = False,
          checkout: os.PathLike | str | None = None,
          log: Callable[[str], None] = print) -> Built:
  """Writes a ready workspace of the sequences of `root` (module docstring).

  Everything is read and checked before anything is written; sequences/
  is written beside and then moved in place.

  Args:
    root: a sequence folder or a benchmark root (`read_root`).
    workspace: the folder to write (created; see `check_workspace`).
    stack_name: a `STACKS` name.
    repetitions: runs per sequence (the tracker is deterministic: 1 gives
      the numbers of the stack's 15 at a third of their cost).
    backend, checkpoint, preset: the tracker (`trackers_text`).
    dataset: the benchmark of `root` when ambiguous (`read_root`).
    overwrite: write into a non-empty folder that is no workspace of ours.
    checkout: the folder for the tracker's `paths`; default: this
      checkout, if siamfc_jax runs from one (`checkout_root`).
    log: told which layout was detected.

  Returns:
    What was built.

  Raises:
    FileNotFoundError, NotADirectoryError, ValueError: see `read_root`,
      `check_sequence`, `stack`, `trackers_text`; repeated sequence names;
      a root inside the workspace's sequences/.
    FileExistsError: see `check_workspace`.
  """
  root = pathlib.Path(root)
  workspace = pathlib.Path(workspace).absolute()
  check_workspace(workspace, overwrite)
  stack_yaml = stack_text(stack_name, repetitions)
  checkout = (checkout_root() if checkout is None else
              pathlib.Path(checkout).absolute())
  trackers_ini = trackers_text(checkout, backend, checkpoint, preset)
  seqs = read_root(root, dataset, log)
  _check_outside(root, workspace)
  names = [s.name for s in seqs]
  if repeated := sorted({n for n in names if names.count(n) > 1}):
    raise ValueError(f"{root}: sequence names repeated: "
                     f"{', '.join(repeated)}")
  for seq in seqs:
    check_sequence(seq)

  built = Built(workspace, tuple((s.name, len(s)) for s in seqs), stack_name,
                repetitions, checkout)
  workspace.mkdir(parents=True, exist_ok=True)
  kept = tuple(sorted(p.name for p in workspace.iterdir()
                      if p.name not in BUILT + (CACHE,)))
  marker = {"built_by": __name__, "root": str(root.absolute()),
            "stack": stack_name, "repetitions": repetitions,
            "sequences": dict(built.sequences)}
  # The marker first: a build that fails half-way can be run again.
  (workspace / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
  new = workspace / f".sequences.new-{uuid.uuid4().hex}"
  try:
    _write_sequences(new, seqs)
    _replace(workspace / "sequences", new)
  finally:
    if new.exists():
      shutil.rmtree(new)
  for name, text in (("stack.yaml", stack_yaml),
                     ("trackers.ini", trackers_ini),
                     ("config.yaml", config_text())):
    tmp = workspace / f".{name}.new"
    tmp.write_text(text)
    _replace(workspace / name, tmp)
  if (workspace / CACHE).is_dir():
    shutil.rmtree(workspace / CACHE)
  (workspace / "results").mkdir(exist_ok=True)
  return dataclasses.replace(built, kept=kept)


def next_steps(built: Built) -> str:
  """The commands to run next, as one line."""
  return (f"cd {shlex.quote(str(built.workspace))} && vot evaluate "
          f"{vot.TRACKER_NAME} && vot analysis {vot.TRACKER_NAME}")
