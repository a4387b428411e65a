r"""Builds a ready VOT-toolkit workspace from sequence folders.

  siamfc-jax vot_workspace --root=data/vot2015 --workspace=ws
  cd ws && vot evaluate SiamFC_JAX && vot analysis SiamFC_JAX

--root is one sequence folder or a benchmark root our readers know (VOT,
OTB, GOT-10k, LaSOT, ...; --dataset when its layout is ambiguous). The
workspace gets config.yaml, trackers.ini (the tracker SiamFC_JAX, run from
this checkout or the installed package), stack.yaml (--stack's supervised
experiment with siamfc_jax's fix of the toolkit's class, --repetitions
runs) and sequences/ in the toolkit's layout: frames linked, not copied,
ground truth matched to the frames (a mismatch is warned). A non-empty
--workspace is refused unless this command built it or --overwrite is
given. See siamfc_jax/integrations/vot_workspace.py.
"""

from absl import app
from absl import flags

from siamfc_jax import tracking
from siamfc_jax.data import datasets
from siamfc_jax.integrations import vot
from siamfc_jax.integrations import vot_workspace

_ROOT = flags.DEFINE_string(
    "root", None, "A sequence folder, or a folder of sequences (a benchmark "
    "root, e.g. a VOT download's sequences/).")
_WORKSPACE = flags.DEFINE_string("workspace", None, "The workspace folder "
                                 "to write.")
_STACK = flags.DEFINE_enum(
    "stack", vot_workspace.DEFAULT_STACK, list(vot_workspace.STACKS),
    "The VOT stack whose supervised (baseline) experiment to run.")
_REPETITIONS = flags.DEFINE_integer(
    "repetitions", vot_workspace.DEFAULT_REPETITIONS,
    f"Runs per sequence. The stacks ask for "
    f"{vot_workspace.STACK_REPETITIONS}; the tracker is deterministic and "
    "the toolkit stops after three equal runs, so that costs 3 runs and "
    "gives the numbers of 1.", lower_bound=1)
_BACKEND = flags.DEFINE_enum("backend", "auto", list(vot.BACKENDS),
                             "Where the tracker's frame step runs.")
_CHECKPOINT = flags.DEFINE_string(
    "checkpoint", None, "Checkpoint, workdir or weights file of the tracker; "
    "default: the bundled SiamFC-3s network.")
_PRESET = flags.DEFINE_enum("preset", None, list(tracking.PRESETS),
                            "Tracking preset; default: the checkpoint's.")
_DATASET = flags.DEFINE_enum(
    "dataset", None, list(datasets.BENCHMARKS), "The benchmark layout of "
    "--root; default: detected.")
_OVERWRITE = flags.DEFINE_bool(
    "overwrite", False, "Write into a non-empty folder that this command "
    "did not build (its config.yaml, trackers.ini, stack.yaml and "
    "sequences/ are replaced).")

flags.mark_flags_as_required(["root", "workspace"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  built = vot_workspace.build(
      _ROOT.value, _WORKSPACE.value, _STACK.value, _REPETITIONS.value,
      _BACKEND.value, _CHECKPOINT.value, _PRESET.value, _DATASET.value,
      _OVERWRITE.value)
  frames = sum(n for _, n in built.sequences)
  runs = "run" if built.repetitions == 1 else "runs"
  print(f"Wrote the VOT workspace {built.workspace}")
  count = len(built.sequences)
  print(f"  sequences/: {count} sequence{'s' * (count != 1)}, {frames} "
        "frames (linked, not copied)")
  print(f"  stack.yaml: {built.stack}'s baseline experiment, "
        f"{built.repetitions} {runs} per sequence")
  print(f"  trackers.ini: {vot.TRACKER_NAME}, " + (
      f"from the checkout {built.checkout}" if built.checkout else
      "from the installed siamfc_jax"))
  if "results" in built.kept and any(
      (built.workspace / "results").iterdir()):
    print("  kept results/: the toolkit reuses the results it finds; delete "
          f"results/{vot.TRACKER_NAME} after changing the sequences or the "
          "tracker")
  print("Next (the analysis is written to analysis/<date>.json):")
  print(f"  {vot_workspace.next_steps(built)}")

