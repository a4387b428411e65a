"""The quick-start notebook runs top to bottom (so it cannot rot)."""

import pathlib

import nbclient
import nbformat

NOTEBOOKS = pathlib.Path(__file__).resolve().parents[1] / "notebooks"


def test_quickstart_notebook_runs_top_to_bottom(tmp_path):
  nb = nbformat.read(NOTEBOOKS / "quickstart.ipynb", as_version=4)
  client = nbclient.NotebookClient(
      nb, timeout=900, kernel_name="python3",
      resources={"metadata": {"path": str(tmp_path)}})
  client.execute()
  outputs = "".join(o.get("text", "") for c in nb.cells
                    if c.cell_type == "code" for o in c.get("outputs", []))
  assert "success AUC" in outputs
  assert (tmp_path / "demo.gif").stat().st_size > 0
