"""Tests of the got10k toolkit adapter, with the toolkit's own OTB experiment.

The toolkit (`pip install got10k==0.1.3`) is optional: tests that need it
skip when it is missing. Its OTB experiment runs on a fake tree of real OTB
sequence names, built without the download the toolkit would start.
"""

import importlib.util
import json
import sys

import jax
import numpy as np
import pytest

from siamfc_jax import model
from siamfc_jax import tracker as tracker_lib
from siamfc_jax.data import sequences
from siamfc_jax.evaluation import protocols
from siamfc_jax.integrations import got10k as adapter_lib
from tests import clips
from tests import fake_datasets

SPEC, PARAMS = clips.SPEC, clips.PARAMS  # 1/8-width AlexNet, small crops
ONE_BASED = np.array([1.0, 1, 0, 0])
# Names the toolkit's OTB-2015 list knows; Jogging has two targets.
OTB_LENGTHS = {"Crossing": 6, "Dudek": 4, "Jogging": 5}


@pytest.fixture(scope="module")
def tracker():
  variables = model.init(SPEC, jax.random.key(1))  # slow: once per module
  return tracker_lib.Tracker(SPEC, variables, PARAMS, name="tiny")


@pytest.fixture(scope="module")
def otb_root(tmp_path_factory):
  root = tmp_path_factory.mktemp("OTB100")
  fake_datasets.write_otb(root, OTB_LENGTHS, two_targets="Jogging")
  return root


def _crossing(otb_root):
  seq = sequences.read_otb(otb_root / "Crossing")
  return list(seq.frames), seq.boxes


def test_adapter_is_a_deterministic_got10k_tracker(tracker):
  got10k_trackers = pytest.importorskip("got10k.trackers")
  adapter = adapter_lib.SiamFCTracker(tracker)
  assert isinstance(adapter, got10k_trackers.Tracker)
  assert adapter.name == "tiny" and adapter.is_deterministic


@pytest.mark.parametrize("origin", [0, 1])
def test_adapter_answers_in_the_coordinates_it_was_given(
    origin, tracker, otb_root):
  frames, gt = _crossing(otb_root)
  want, _ = tracker.track(frames, gt[0])
  offset = origin * ONE_BASED
  adapter = adapter_lib.SiamFCTracker(tracker, origin=origin)
  boxes, times = adapter.track(frames, gt[0] + offset)
  np.testing.assert_array_equal(boxes[0], gt[0] + offset)
  np.testing.assert_allclose(boxes, want + offset, rtol=0, atol=1e-9)
  assert times.shape == (len(frames),) and np.all(times > 0)


def test_adapter_track_equals_the_toolkits_frame_by_frame_loop(
    tracker, otb_root):
  """`track` (our prefetching loop) = got10k's loop of PIL `init/update`."""
  frames, gt = _crossing(otb_root)
  adapter = adapter_lib.SiamFCTracker(tracker)
  toolkit_loop = adapter_lib._Base.track  # pylint: disable=protected-access
  want, _ = toolkit_loop(adapter, frames, gt[0] + ONE_BASED)
  got, _ = adapter.track(frames, gt[0] + ONE_BASED)
  np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)


def test_adapter_without_the_toolkit_keeps_its_interface(
    tracker, otb_root, monkeypatch):
  monkeypatch.setitem(sys.modules, "got10k", None)  # import fails
  monkeypatch.setitem(sys.modules, "got10k.trackers", None)
  spec = importlib.util.spec_from_file_location("got10k_fallback",
                                                adapter_lib.__file__)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  assert not module.HAVE_GOT10K
  adapter = module.SiamFCTracker(tracker, name="fallback")
  assert adapter.name == "fallback" and adapter.is_deterministic
  frames, gt = _crossing(otb_root)
  fallback_loop = module._Base.track  # pylint: disable=protected-access
  loop, _ = fallback_loop(adapter, frames, gt[0] + ONE_BASED)
  want, _ = tracker.track(frames, gt[0])
  np.testing.assert_allclose(loop, want + ONE_BASED, rtol=0, atol=1e-9)


def test_toolkit_otb_experiment_and_our_protocol_agree(
    tracker, otb_root, tmp_path):
  """got10k's ExperimentOTB runs the adapter; we score its files (and ours
  are the same bytes), and its report equals ours."""
  otb_experiment = pytest.importorskip("got10k.experiments.otb")
  otb_dataset = pytest.importorskip("got10k.datasets.otb")
  # ExperimentOTB.__init__ would download the missing OTB sequences: build
  # it by hand around the toolkit's own reader of our partial tree.
  experiment = otb_experiment.ExperimentOTB.__new__(
      otb_experiment.ExperimentOTB)
  experiment.dataset = otb_dataset.OTB(str(otb_root), 2015, download=False)
  experiment.result_dir = str(tmp_path / "toolkit" / "results" / "OTB")
  experiment.report_dir = str(tmp_path / "toolkit" / "reports" / "OTB")
  experiment.nbins_iou, experiment.nbins_ce = 21, 51
  assert sorted(experiment.dataset.seq_names) == [
      "Crossing", "Dudek", "Jogging.1", "Jogging.2"]

  experiment.run(adapter_lib.SiamFCTracker(tracker))
  performance = experiment.report([tracker.name])[tracker.name]

  seqs = sequences.read_dataset(otb_root, "otb")
  # Our protocol finds the toolkit's result files and only scores them.
  theirs = protocols.evaluate(tracker, seqs, "otb", tmp_path / "toolkit")
  assert theirs.tracked == []
  # Tracked by us (lock-step batch), the result files are byte-identical.
  protocols.run(tracker, seqs, "otb", tmp_path / "ours")
  for seq in seqs:
    ours = protocols.result_file(tmp_path / "ours", "otb", "tiny", seq.name)
    toolkit = protocols.result_file(tmp_path / "toolkit", "otb", "tiny",
                                    seq.name)
    assert ours.read_text() == toolkit.read_text(), seq.name

  report = json.loads(theirs.report_file.read_text())
  pairs = [("success_score", "auc"), ("precision_score", "precision20"),
           ("success_rate", "success_rate")]
  for name, scores in performance["seq_wise"].items():
    for theirs_key, our_key in pairs:
      assert report["sequences"][name][our_key] == pytest.approx(
          scores[theirs_key], abs=1e-9)
  for theirs_key, our_key in pairs:
    assert report["overall"][our_key] == pytest.approx(
        performance["overall"][theirs_key], abs=1e-9)
  np.testing.assert_allclose(report["overall"]["success_curve"],
                             performance["overall"]["success_curve"],
                             atol=1e-9)
  assert report["overall"]["fps"] == pytest.approx(
      performance["overall"]["speed_fps"], rel=1e-9)
