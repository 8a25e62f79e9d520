"""The compute backend chosen for the machine a binary lands on.

Two choices depend on the hardware, and users should not have to know them:

- oneDNN's optimized CPU kernels (`TF_ENABLE_ONEDNN_OPTS=1`). TensorFlow
  turns them on by itself only on x86 CPUs with AVX-512 VNNI, BF16 or AMX;
  on AVX2 CPUs they double the convolution speed too (measured on AMD Zen 3,
  docs/performance.md), so the binaries turn them on for every x86 CPU where
  the user has not set the variable. It must be set before TensorFlow is
  imported: `enable_onednn()` is called from `pipelines/__init__.py`.
- `--mixed_precision=auto`: bfloat16 only where the hardware computes it
  natively (AVX512_BF16 or AMX on a CPU, compute capability 8 or higher on a
  GPU), float16 with loss scaling on older GPUs, float32 everywhere else.
  On an AVX2 CPU bfloat16 convolutions are emulated and 8 times slower than
  float32.

This module imports TensorFlow only inside `resolve_mixed_precision`, so the
binaries can import it before TensorFlow.
"""

import dataclasses
import os
import platform
from typing import Iterable, Optional, Sequence, Tuple

ONEDNN_VARIABLE = "TF_ENABLE_ONEDNN_OPTS"
AUTO = "auto"
# CPU flags (as /proc/cpuinfo spells them) that compute bfloat16 natively.
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
_X86_MACHINES = ("x86_64", "amd64", "i386", "i686", "x86")


def cpu_flags(cpuinfo_path: str = "/proc/cpuinfo") -> frozenset:
  """The first CPU's feature flags, lower case; empty where unknown."""
  try:
    with open(cpuinfo_path, encoding="utf-8", errors="replace") as f:
      for line in f:
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
          return frozenset(value.lower().split())
  except OSError:
    pass
  return frozenset()


def cpu_model(cpuinfo_path: str = "/proc/cpuinfo") -> str:
  """The CPU's model name, or the platform's processor string."""
  try:
    with open(cpuinfo_path, encoding="utf-8", errors="replace") as f:
      for line in f:
        key, _, value = line.partition(":")
        if key.strip() == "model name":
          return value.strip()
  except OSError:
    pass
  return platform.processor() or platform.machine() or "unknown"


def is_x86(machine: Optional[str] = None) -> bool:
  return (machine or platform.machine()).lower() in _X86_MACHINES


def enable_onednn(environ=None, machine: Optional[str] = None) -> str:
  """Sets TF_ENABLE_ONEDNN_OPTS=1 on x86 unless the user has set it.

  Call before TensorFlow is imported; afterwards it changes nothing.

  Args:
    environ: the environment to read and change (os.environ by default).
    machine: platform.machine() by default.

  Returns:
    Why oneDNN is on or off, for the log.
  """
  environ = os.environ if environ is None else environ
  if ONEDNN_VARIABLE in environ:
    return f"{ONEDNN_VARIABLE}={environ[ONEDNN_VARIABLE]} (set by the user)"
  if not is_x86(machine):
    return (f"{ONEDNN_VARIABLE} unset: TensorFlow's default on "
            f"{machine or platform.machine()}")
  environ[ONEDNN_VARIABLE] = "1"
  return f"{ONEDNN_VARIABLE}=1 (x86 CPU; colorizer's default)"


def onednn_enabled(environ=None, machine: Optional[str] = None,
                   flags: Optional[Iterable[str]] = None) -> bool:
  """Whether TensorFlow runs oneDNN's kernels under this environment.

  TensorFlow's own rule when the variable is unset: on for x86 CPUs with
  AVX-512 VNNI, BF16 or AMX (TensorFlow 2.9 and later).
  """
  environ = os.environ if environ is None else environ
  value = environ.get(ONEDNN_VARIABLE)
  if value is not None:
    return value.strip().lower() in ("1", "true", "yes", "on")
  if not is_x86(machine):
    return False
  flags = cpu_flags() if flags is None else frozenset(flags)
  return any(flag in flags for flag in
             ("avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile"))


@dataclasses.dataclass(frozen=True)
class PrecisionChoice:
  """A resolved --mixed_precision and the reason, for the log."""
  mixed_precision: str  # none | bfloat16 | float16
  reason: str


def choose_mixed_precision(
    requested: str,
    flags: Iterable[str] = (),
    gpu_compute_capabilities: Sequence[Tuple[int, int]] = (),
) -> PrecisionChoice:
  """Resolves --mixed_precision=auto from the hardware; others pass through.

  Args:
    requested: the flag's value: auto, none, bfloat16 or float16.
    flags: the CPU's feature flags (see `cpu_flags`).
    gpu_compute_capabilities: (major, minor) of each visible GPU.

  Returns:
    The precision to train in and why.
  """
  if requested != AUTO:
    return PrecisionChoice(requested, f"--mixed_precision={requested} given")
  if gpu_compute_capabilities:
    oldest = min(gpu_compute_capabilities)
    name = f"compute capability {oldest[0]}.{oldest[1]}"
    if oldest[0] >= 8:
      return PrecisionChoice("bfloat16", f"GPU {name}: native bfloat16")
    if oldest >= (7, 0):
      return PrecisionChoice(
          "float16", f"GPU {name}: no bfloat16, float16 tensor cores "
          "(with loss scaling)")
    return PrecisionChoice("none", f"GPU {name}: no fast 16-bit math")
  flags = frozenset(flags)
  native = [flag for flag in BF16_CPU_FLAGS if flag in flags]
  if native:
    return PrecisionChoice("bfloat16",
                           f"CPU has {', '.join(native)}: native bfloat16")
  return PrecisionChoice(
      "none", "CPU lacks avx512_bf16 and amx_bf16: bfloat16 would be "
      "emulated (about 8x slower), float32")


def gpu_compute_capabilities() -> Tuple[Tuple[int, int], ...]:
  """(major, minor) of each GPU TensorFlow sees; () on a CPU-only host."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  capabilities = []
  for device in tf.config.list_physical_devices("GPU"):
    details = tf.config.experimental.get_device_details(device)
    capability = details.get("compute_capability")
    if capability:
      capabilities.append(tuple(capability))
  return tuple(capabilities)


def resolve_mixed_precision(requested: str) -> PrecisionChoice:
  """choose_mixed_precision for this machine."""
  if requested != AUTO:
    return choose_mixed_precision(requested)
  return choose_mixed_precision(requested, cpu_flags(),
                                gpu_compute_capabilities())


def vector_isa(flags: Iterable[str]) -> str:
  """The CPU's widest relevant instruction set, for benchmark labels."""
  flags = frozenset(flags)
  for flag in ("amx_bf16", "avx512_bf16", "avx512f", "avx2"):
    if flag in flags:
      return flag
  return "none"


def summary() -> dict:
  """Where a figure was measured: CPU, its ISA, cores, TF, oneDNN, GPUs."""
  flags = cpu_flags()
  try:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    tf_version = tf.__version__
    gpus = [tf.config.experimental.get_device_details(gpu).get(
        "device_name", "GPU") for gpu in tf.config.list_physical_devices("GPU")]
  except ImportError:
    tf_version, gpus = "not installed", []
  return {"cpu": cpu_model(), "isa": vector_isa(flags),
          "cores": os.cpu_count(), "tf": tf_version,
          "onednn": "on" if onednn_enabled(flags=flags) else "off",
          "gpu": ",".join(gpus) or "none"}


def describe() -> str:
  """One line: CPU model, its vector/bfloat16 flags, TF version, oneDNN."""
  flags = cpu_flags()
  shown = sorted(flag for flag in flags if flag.startswith(("avx512", "amx"))
                 or flag in ("avx2", "avx_vnni"))
  where = summary()
  return (f"cpu={where['cpu']!r} cores={where['cores']} "
          f"flags={','.join(shown) or 'none'} tensorflow={where['tf']} "
          f"onednn={where['onednn']} gpu={where['gpu']}")
