"""The documentation builds with warnings as errors and covers the API.

One build of docs/ (Sphinx, MyST, autodoc; about 30 s on 2 cores), then
its objects inventory (objects.inv) and the command-line page are read.
"""

import importlib.util
import pathlib
import subprocess
import sys
import zlib

import pytest

import siamfc_jax
from siamfc_jax import cli

pytest.importorskip("sphinx", reason="sphinx (requirements.txt) is needed")
pytest.importorskip("myst_parser",
                    reason="myst-parser (requirements.txt) is needed")
nodes = pytest.importorskip("docutils.nodes")  # comes with sphinx

ROOT = pathlib.Path(__file__).resolve().parents[1]
# The modules the API reference must describe (issue #27).
MODULES = [
    "siamfc_jax", "siamfc_jax.tracker", "siamfc_jax.tracking",
    "siamfc_jax.embedding", "siamfc_jax.xcorr", "siamfc_jax.crop",
    "siamfc_jax.boxes", "siamfc_jax.labels", "siamfc_jax.losses",
    "siamfc_jax.evaluation.metrics", "siamfc_jax.evaluation.protocols",
    "siamfc_jax.evaluation.reports", "siamfc_jax.training",
    "siamfc_jax.export", "siamfc_jax.data.sequences",
    "siamfc_jax.data.video", "siamfc_jax.data.datasets",
]


@pytest.fixture(scope="module")
def html(tmp_path_factory) -> pathlib.Path:
  """The HTML docs, built with -W (a warning fails the build)."""
  out = tmp_path_factory.mktemp("docs_html")
  result = subprocess.run(
      [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-j", "1",
       "-b", "html", str(ROOT / "docs"), str(out)],
      cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stdout + result.stderr
  return out


def read_inventory(path: pathlib.Path) -> dict[str, str]:
  """objects.inv (Sphinx's format 2) as {name: domain:role}."""
  data = path.read_bytes()
  header = data.split(b"\n", 4)
  assert header[0] == b"# Sphinx inventory version 2", header[0]
  entries = {}
  for line in zlib.decompress(header[4]).decode().splitlines():
    # name domain:role priority uri display-name (the name has no space
    # for Python objects).
    name, role = line.split(" ", 2)[:2]
    entries[name] = role
  return entries


def test_docs_build_without_warnings(html):
  assert (html / "index.html").is_file()
  assert (html / "api" / "siamfc_jax.html").is_file()


@pytest.mark.parametrize("name", sorted(siamfc_jax.__all__))
def test_every_export_has_a_reference_entry(html, name):
  inventory = read_inventory(html / "objects.inv")
  assert f"siamfc_jax.{name}" in inventory, name
  assert inventory[f"siamfc_jax.{name}"].startswith("py:")


@pytest.mark.parametrize("module", MODULES)
def test_public_modules_are_described(html, module):
  assert read_inventory(html / "objects.inv").get(module) == "py:module"


def test_every_command_has_its_flags_in_the_reference(html):
  page = (html / "cli.html").read_text()
  for command in cli.COMMANDS:
    # docutils' ids: "cli-compare-runs" for compare_runs.
    assert f'id="{nodes.make_id("cli-" + command)}"' in page, command
  # Rows of flags: two commands' own, and one a command imports.
  assert 'id="cli-track-seq"' in page
  assert 'id="cli-train-workdir"' in page
  assert 'id="cli-train-multihost"' in page


def load_docstring_blocks():
  """docs/_ext/docstring_blocks.py, a Sphinx extension, not a package."""
  path = ROOT / "docs" / "_ext" / "docstring_blocks.py"
  spec = importlib.util.spec_from_file_location("docstring_blocks", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_indented_block_after_prose_is_code():
  blocks = load_docstring_blocks()
  lines = ["Layout:", "", "  out/", "    a.json", "", "Then `Sequence`s."]
  assert blocks.code_blocks(lines) == [
      "Layout:", "", "::", "", "  out/", "    a.json", "",
      "Then `Sequence`\\ s."]


@pytest.mark.parametrize("lines", [
    ["Args:", "  x: the input,", "", "    in two paragraphs."],
    ["A list:", "", "- item", "", "  its second paragraph."],
    ["Already code::", "", "  x = 1"],
])
def test_sections_lists_and_literal_blocks_are_left_alone(lines):
  assert load_docstring_blocks().code_blocks(lines) == lines
