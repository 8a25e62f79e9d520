"""Backend choice by hardware: oneDNN on x86, --mixed_precision=auto."""

import subprocess
import sys

import pytest

from colorizer import config as config_lib
from colorizer import hardware
from colorizer.training import steps

ZEN3_FLAGS = "fpu sse sse2 avx avx2 fma bmi2 sha_ni vaes vpclmulqdq"
ZEN4_FLAGS = ZEN3_FLAGS + " avx512f avx512bw avx512_vnni avx512_bf16"
SAPPHIRE_RAPIDS_FLAGS = ZEN3_FLAGS + " avx512f amx_tile amx_bf16 amx_int8"


@pytest.mark.parametrize("flags,expected", [
    (ZEN3_FLAGS, "none"),
    (ZEN4_FLAGS, "bfloat16"),
    (SAPPHIRE_RAPIDS_FLAGS, "bfloat16"),
    ("", "none"),
])
def test_auto_precision_on_cpus_follows_native_bfloat16(flags, expected):
  choice = hardware.choose_mixed_precision("auto", flags.split())
  assert choice.mixed_precision == expected
  assert choice.reason


@pytest.mark.parametrize("capabilities,expected", [
    ([(9, 0)], "bfloat16"),   # H100
    ([(8, 0)], "bfloat16"),   # A100
    ([(7, 5)], "float16"),    # T4
    ([(7, 0)], "float16"),    # V100
    ([(6, 1)], "none"),       # P40: no tensor cores
    ([(8, 6), (7, 5)], "float16"),  # mixed GPUs: the oldest decides
])
def test_auto_precision_on_gpus_follows_compute_capability(capabilities,
                                                           expected):
  # A GPU decides, whatever the CPU can do.
  choice = hardware.choose_mixed_precision("auto", ZEN4_FLAGS.split(),
                                           capabilities)
  assert choice.mixed_precision == expected


@pytest.mark.parametrize("requested", ["none", "bfloat16", "float16"])
def test_explicit_precision_is_kept(requested):
  choice = hardware.choose_mixed_precision(requested, ZEN3_FLAGS.split())
  assert choice.mixed_precision == requested


def test_cpu_flags_and_model_read_from_cpuinfo(tmp_path):
  cpuinfo = tmp_path / "cpuinfo"
  cpuinfo.write_text("processor\t: 0\nmodel name\t: AMD EPYC 9454\n"
                     f"flags\t\t: {ZEN4_FLAGS}\n\nprocessor\t: 1\n"
                     "flags\t\t: something else\n")
  flags = hardware.cpu_flags(str(cpuinfo))
  assert "avx512_bf16" in flags and "something" not in flags
  assert hardware.cpu_model(str(cpuinfo)) == "AMD EPYC 9454"
  assert hardware.cpu_flags(str(tmp_path / "missing")) == frozenset()


def test_onednn_turned_on_for_x86_unless_the_user_decided():
  environ = {}
  reason = hardware.enable_onednn(environ, machine="x86_64")
  assert environ[hardware.ONEDNN_VARIABLE] == "1" and "default" in reason
  environ = {hardware.ONEDNN_VARIABLE: "0"}
  hardware.enable_onednn(environ, machine="x86_64")
  assert environ[hardware.ONEDNN_VARIABLE] == "0"
  environ = {}
  hardware.enable_onednn(environ, machine="aarch64")
  assert hardware.ONEDNN_VARIABLE not in environ


def test_onednn_enabled_follows_tensorflow_rule_when_unset():
  assert hardware.onednn_enabled({}, "x86_64", ZEN4_FLAGS.split())
  assert not hardware.onednn_enabled({}, "x86_64", ZEN3_FLAGS.split())
  assert hardware.onednn_enabled({"TF_ENABLE_ONEDNN_OPTS": "1"}, "x86_64",
                                 ZEN3_FLAGS.split())
  assert not hardware.onednn_enabled({"TF_ENABLE_ONEDNN_OPTS": "0"}, "x86_64",
                                     ZEN4_FLAGS.split())


def test_binaries_set_onednn_before_tensorflow_is_imported():
  code = ("import os; os.environ.pop('TF_ENABLE_ONEDNN_OPTS', None); "
          "import sys; import pipelines; "
          "print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'), "
          "'tensorflow' in sys.modules)")
  env = {k: v for k, v in __import__("os").environ.items()
         if k != "TF_ENABLE_ONEDNN_OPTS"}
  out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, env=env, check=True).stdout.split()
  expected = "1" if hardware.is_x86() else "None"
  assert out == [expected, "False"]


def test_resolve_precision_replaces_auto_for_the_run(tiny_config, monkeypatch):
  monkeypatch.setattr(hardware, "cpu_flags", lambda *a: frozenset(
      ZEN3_FLAGS.split()))
  monkeypatch.setattr(hardware, "gpu_compute_capabilities", lambda: ())
  config = tiny_config.replace(train={"mixed_precision": "auto"})
  assert steps.resolve_precision(config).train.mixed_precision == "none"
  monkeypatch.setattr(hardware, "cpu_flags", lambda *a: frozenset(
      ZEN4_FLAGS.split()))
  assert steps.resolve_precision(config).train.mixed_precision == "bfloat16"


def test_auto_float16_falls_back_for_encoder_generators(tiny_config,
                                                        monkeypatch):
  monkeypatch.setattr(hardware, "gpu_compute_capabilities", lambda: ((7, 5),))
  config = tiny_config.replace(
      train={"mixed_precision": "auto"}, model={"generator": "mobilenet_unet"})
  assert steps.resolve_precision(config).train.mixed_precision == "none"
  unet = config.replace(model={"generator": "unet"})
  assert steps.resolve_precision(unet).train.mixed_precision == "float16"


def test_auto_is_the_default_and_presets_for_tests_pin_float32(tiny_config):
  assert config_lib.Config().train.mixed_precision == "auto"
  assert tiny_config.train.mixed_precision == "none"


def test_benchmark_lines_say_where_they_ran(capsys):
  from benchmarks import measure  # pylint: disable=g-import-not-at-top
  assert hardware.vector_isa(ZEN3_FLAGS.split()) == "avx2"
  assert hardware.vector_isa(ZEN4_FLAGS.split()) == "avx512_bf16"
  assert hardware.vector_isa(SAPPHIRE_RAPIDS_FLAGS.split()) == "amx_bf16"
  where = hardware.summary()
  assert set(where) >= {"cpu", "isa", "tf", "onednn"}
  record = measure.Recorder("", where)
  record.add(name="train_step", img_per_s=12.5)
  line = capsys.readouterr().out.strip()
  assert line.startswith("name=train_step img_per_s=12.5 cpu=")
  assert f"isa={where['isa']}" in line and f"onednn={where['onednn']}" in line
  assert record.rows == [{"name": "train_step", "img_per_s": 12.5}]
