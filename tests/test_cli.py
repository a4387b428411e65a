"""Tests of `siamfc-jax` (siamfc_jax/cli/__init__.py): the commands, their
two spellings, and the training configs by name."""

import importlib.util
import os
import pathlib
import subprocess
import sys

from absl import flags
from ml_collections import config_flags
import pytest

from siamfc_jax import cli
from siamfc_jax import configs
from siamfc_jax.cli import entry

REPO = pathlib.Path(__file__).resolve().parents[1]


def _run(*args, cwd=REPO):
  env = {k: v for k, v in os.environ.items() if k != entry.VERBOSE_ENV}
  return subprocess.run([sys.executable, *args], cwd=cwd, env=env,
                        capture_output=True, text=True, timeout=300)


def test_every_command_has_a_module_with_a_main():
  for name, module in cli.COMMANDS.items():
    spec = importlib.util.find_spec(module)
    assert spec is not None, f"{name}: {module} missing"
    assert "\ndef main(argv" in pathlib.Path(spec.origin).read_text(), name


def test_usage_lists_every_command_with_its_summary():
  text = cli.usage()
  for name in cli.COMMANDS:
    assert f"\n  {name} " in text
  assert "(not installed)" not in text


def test_unknown_command_is_one_line_and_status_2(capsys):
  with pytest.raises(SystemExit) as exit_info:
    cli.main(["siamfc-jax", "trak"])
  assert exit_info.value.code == 2
  err = capsys.readouterr().err
  assert err.count("\n") == 1 and "unknown command 'trak'" in err


def test_both_spellings_give_the_same_one_line_error():
  checkout = _run("-m", "experiments.track", "--seq=/no/such/folder")
  package = _run("-m", "siamfc_jax", "track", "--seq=/no/such/folder")
  assert checkout.returncode == package.returncode == 1
  assert checkout.stderr.startswith("track: error: ")
  assert package.stderr.startswith("siamfc-jax track: error: ")
  assert (checkout.stderr.removeprefix("track: ") ==
          package.stderr.removeprefix("siamfc-jax track: "))
  assert package.stderr.count("\n") == 1


def test_help_is_the_commands_docstring(tmp_path):
  result = _run("-m", "siamfc_jax", "track", "--help", cwd=tmp_path)
  assert result.stdout.startswith("Tracks one sequence"), result.stdout


def test_shipped_configs_resolve_by_name_and_keep_their_variant():
  assert set(configs.NAMES) >= {"vid", "got10k", "folder", "tiny", "cfnet",
                                "finetune"}
  path, _, variant = configs.resolve("cfnet:conv1").partition(":")
  assert pathlib.Path(path) == configs.FOLDER / "cfnet.py"
  assert variant == "conv1"
  assert configs.resolve("vid.py") == str(configs.FOLDER / "vid.py")


def test_a_config_file_of_ones_own_is_taken_as_it_is(tmp_path):
  own = tmp_path / "own.py"
  own.write_text("")
  assert configs.resolve(f"{own}:x") == f"{own}:x"
  with pytest.raises(FileNotFoundError, match="missing.py: no such config"):
    configs.resolve(str(tmp_path / "missing.py"))


@pytest.mark.parametrize("config, message", [
    ("nope.py", "--config: nope.py: no such config file"),
    ("cfnet:bogus", "ValueError: unknown variant 'bogus' of cfnet.py"),
])
def test_a_bad_config_is_one_line_without_its_traceback(tmp_path, config,
                                                         message):
  result = _run("-m", "siamfc_jax", "train", f"--config={config}",
                f"--workdir={tmp_path / 'w'}", cwd=tmp_path)
  assert result.returncode == 1
  assert result.stderr.count("\n") == 1, result.stderr
  assert message in result.stderr and "Traceback" not in result.stderr


def test_config_flag_takes_a_name(monkeypatch):
  argv = ["prog", "--config=tiny", "--config.batch_size=4"]
  values = flags.FlagValues()
  config_flags.DEFINE_config_file("config", None, "", flag_values=values,
                                  sys_argv=argv)
  monkeypatch.setattr(flags, "FLAGS", values)
  values(entry.resolve_config_names(argv))
  assert values.config.data.kind == "synthetic"
  assert values.config.batch_size == 4


def test_checkout_paths_of_configs_still_work():
  # experiments/configs links to the shipped folder (README's spelling).
  assert (REPO / "experiments" / "configs" / "vid.py").resolve() == (
      configs.FOLDER / "vid.py")
