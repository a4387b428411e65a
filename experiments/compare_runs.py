r"""Compares training recipes by how well their networks track.

  python -m experiments.compare_runs --runs=runs/cmp \
      --plot=docs/images/training_recipes.png

`--runs` is a folder of training workdirs named `<recipe>-s<seed>`, each
trained with `config.track_val.root` set (docs/training.md, "Comparing the
recipes"). Prints one Markdown row per recipe (success AUC of the validation
by tracking at the start, at the end and at its best, mean ± std over the
seeds; precision@20 and the pair validation's peak error at the end) and
plots every run's validation AUC against the pairs seen.
"""

from absl import app
from absl import flags

from experiments import cli
from siamfc_jax.evaluation import training_curves

_RUNS = flags.DEFINE_string("runs", None, "Folder of <recipe>-s<seed> "
                            "training workdirs.")
_PLOT = flags.DEFINE_string("plot", "", "PNG file for the validation AUC "
                            "curves ('' = no plot).")
flags.mark_flag_as_required("runs")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  runs = training_curves.read_runs(_RUNS.value)
  for run in runs:
    if training_curves.AUC_TAG not in run.scalars:
      raise ValueError(f"{run.workdir} has no {training_curves.AUC_TAG}: "
                       "train it with --config.track_val.root set")
  print(training_curves.markdown_table(training_curves.summarise(runs)))
  if _PLOT.value:
    print(f"Wrote {training_curves.plot_auc(runs, _PLOT.value)}")


if __name__ == "__main__":
  cli.run(main)
