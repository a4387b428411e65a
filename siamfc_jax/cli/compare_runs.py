r"""Compares training recipes by how well their networks track.

  siamfc-jax compare_runs --runs=runs/cmp \
      --plot=docs/images/training_recipes.png

`--runs` is a folder of training workdirs named `<recipe>-s<seed>`, each
trained with `config.track_val.root` set (docs/training.md, "Comparing the
recipes"). Prints one Markdown row per recipe (success AUC of the validation
by tracking at the start, at the end and at its best, mean ± std over the
seeds; precision@20 and the pair validation's peak error at the end) and
plots every run's validation AUC (or `--tag`, e.g. `train/loss`) against
the pairs seen; `--recipes=logistic,bf16` compares some of them.
"""

from absl import app
from absl import flags

from siamfc_jax.evaluation import training_curves

_RUNS = flags.DEFINE_string("runs", None, "Folder of <recipe>-s<seed> "
                            "training workdirs.")
_PLOT = flags.DEFINE_string("plot", "", "PNG file for the curves of --tag "
                            "('' = no plot).")
_TAG = flags.DEFINE_string("tag", training_curves.AUC_TAG, "Scalar to plot "
                           "(e.g. train/loss).")
_RECIPES = flags.DEFINE_list("recipes", None, "Recipes to compare "
                             "(default: every run in --runs).")
flags.mark_flag_as_required("runs")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  runs = training_curves.read_runs(_RUNS.value)
  if _RECIPES.value:
    unknown = set(_RECIPES.value) - {r.recipe for r in runs}
    if unknown:
      raise ValueError(f"--recipes {sorted(unknown)} not in {_RUNS.value} "
                       f"(it has {sorted({r.recipe for r in runs})})")
    runs = [r for r in runs if r.recipe in _RECIPES.value]
  print(training_curves.markdown_table(training_curves.summarise(runs)))
  if _PLOT.value:
    path = training_curves.plot(runs, _PLOT.value, _TAG.value)
    print(f"Wrote {path}")

