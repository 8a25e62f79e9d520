r"""Every speed and memory number colorizer reports, in one command.

  python -m benchmarks.run_all                 # the full table (~15 min, 2 CPUs)
  python -m benchmarks.run_all --quick         # fewer sizes, shorter timings
  python -m benchmarks.run_all --json_out=bench.jsonl

Prints one JSON-ish line per measurement (`name=... img_per_s=...`) as it
goes, then a table. Measured here:
  - the input pipeline alone (demo scenes and a folder of generated JPEG
    photos, 256 px) against the train step it feeds;
  - train-step img/s at 32, 128 and 256 px, float32 and bfloat16, with and
    without XLA, with FLOPs per image and the fraction of the machine's
    measured matmul peak (MFU);
  - the textbook TF pix2pix step at 128 px, batch 16, beside colorizer's
    fastest mode, and their ratio;
  - exported-model inference at 256 px and for a 1024x768 photo through the
    full-resolution serving signature;
  - peak memory.
"""

import os
import platform
import tempfile
import time

from absl import app
from absl import flags

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

_QUICK = flags.DEFINE_boolean("quick", False, "Fewer sizes, shorter timings.")
_MIN_SECONDS = flags.DEFINE_float("min_seconds", 10.0,
                                  "Time each measurement at least this long.")
_JSON_OUT = flags.DEFINE_string("json_out", "", "Also write JSON lines here.")
_SIZES = flags.DEFINE_list("sizes", ["32", "128", "256"],
                           "Train-step image sizes.")
SECTIONS = ("train", "textbook", "input", "serving")
_SECTIONS = flags.DEFINE_multi_enum(
    "sections", list(SECTIONS), list(SECTIONS),
    "What to measure (repeat the flag): train steps, the textbook ratio, the "
    "input pipeline, serving. The matmul peak and memory are always shown.")


def hardware_name() -> str:
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  gpus = tf.config.list_physical_devices("GPU")
  if gpus:
    details = tf.config.experimental.get_device_details(gpus[0])
    return f"{len(gpus)}x {details.get('device_name', 'GPU')}"
  model = platform.processor() or platform.machine()
  try:
    with open("/proc/cpuinfo") as f:
      names = [line.split(":", 1)[1].strip() for line in f
               if line.startswith("model name")]
    model = names[0] if names else model
  except OSError:
    pass
  return f"{os.cpu_count()} CPU cores, {model}"


def _batch_for(image_size: int) -> int:
  return {32: 64, 64: 32, 128: 16}.get(image_size, 4)


def _write_photo_folder(root: str, count: int = 64) -> str:
  import numpy as np  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  rng = np.random.RandomState(0)
  for index in range(count):
    base = rng.randint(0, 255, [41, 61, 3]).astype(np.uint8)
    photo = Image.fromarray(base).resize((481, 321), Image.Resampling.BICUBIC)
    photo.save(os.path.join(root, f"photo_{index:03d}.jpg"), quality=90)
  return root


def main(argv):
  del argv
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from benchmarks import measure  # pylint: disable=g-import-not-at-top
  from colorizer import config as config_lib  # pylint: disable=g-import-not-at-top
  from colorizer.serving import export  # pylint: disable=g-import-not-at-top
  from colorizer.model import networks  # pylint: disable=g-import-not-at-top

  min_seconds = 4.0 if _QUICK.value else _MIN_SECONDS.value
  sizes = [32, 128] if _QUICK.value else [int(s) for s in _SIZES.value]
  from colorizer import hardware as hardware_lib  # pylint: disable=g-import-not-at-top
  record = measure.Recorder(_JSON_OUT.value, hardware_lib.summary())
  hardware = hardware_name()
  print(f"hardware: {hardware}; {hardware_lib.describe()}", flush=True)

  peaks = {}
  for dtype_name, dtype in (("float32", tf.float32),
                            ("bfloat16", tf.bfloat16)):
    peaks[dtype_name] = measure.matmul_peak_flops(dtype,
                                                  min_seconds=min_seconds / 2)
    record.add(name=f"matmul_peak_{dtype_name}",
               tflops=peaks[dtype_name] / 1e12)

  sections = set(_SECTIONS.value)
  fastest = {}
  for size in (sizes if "train" in sections or "textbook" in sections
               else []):
    batch = _batch_for(size)
    flops = measure.train_flops_per_image(measure.benchmark_config(size,
                                                                   batch))
    for precision in ("none", "bfloat16"):
      for jit in (False, True):
        config = measure.benchmark_config(size, batch,
                                          mixed_precision=precision,
                                          jit_compile=jit)
        start = time.perf_counter()
        rate = measure.colorizer_train_rate(config, min_seconds=min_seconds)
        peak = peaks["bfloat16" if precision == "bfloat16" else "float32"]
        mfu = rate * flops / peak
        record.add(name="train_step", image_size=size, batch_size=batch,
                   mixed_precision=precision, jit_compile=jit,
                   img_per_s=rate, gflops_per_img=flops / 1e9, mfu=mfu,
                   seconds=time.perf_counter() - start)
        if rate > fastest.get(size, (0.0, None))[0]:
          fastest[size] = (rate, (precision, jit))

  if 128 in fastest and "textbook" in sections:
    textbook = measure.textbook_train_rate(128, 16, min_seconds=min_seconds)
    precision, jit = fastest[128][1]
    ours = measure.colorizer_train_rate(
        measure.benchmark_config(128, 16, mixed_precision=precision,
                                 jit_compile=jit), min_seconds=min_seconds)
    record.add(name="textbook_pix2pix", image_size=128, batch_size=16,
               img_per_s=textbook)
    record.add(name="colorizer_fastest_vs_textbook", image_size=128,
               batch_size=16, mixed_precision=precision, jit_compile=jit,
               img_per_s=ours, speedup=ours / textbook)

  pipeline_size = 256
  step_rate = next((r["img_per_s"] for r in record.rows
                    if r.get("image_size") == pipeline_size and
                    r.get("name") == "train_step" and
                    r["mixed_precision"] == fastest.get(
                        pipeline_size, (0, ("none", False)))[1][0] and
                    r["jit_compile"] == fastest.get(
                        pipeline_size, (0, ("none", False)))[1][1]), None)
  with tempfile.TemporaryDirectory() as folder:
    sources = {} if "input" not in sections else {"demo": "demo",
               "folder_jpeg_481x321": f"folder:{_write_photo_folder(folder)}"}
    for source_name, dataset in sources.items():
      data_config = config_lib.DataConfig(
          dataset=dataset, image_size=pipeline_size, val_fraction=0.0,
          shuffle_buffer=64)
      rate = measure.input_pipeline_rate(data_config, 16,
                                         min_seconds=min_seconds)
      record.add(name="input_pipeline", source=source_name,
                 image_size=pipeline_size, img_per_s=rate,
                 times_train_step=(rate / step_rate if step_rate else
                                   float("nan")))

  if "serving" in sections:
    with tempfile.TemporaryDirectory() as export_root:
      config = measure.benchmark_config(256, 1)
      generator = networks.build_generator(config)
      path = export.export(generator, config, export_root, "bench")
      for label, (height, width), batch in (("256px", (256, 256), 8),
                                            ("photo_1024x768", (768, 1024),
                                             1)):
        rate = measure.serving_rate(path, height, width, batch,
                                    min_seconds=min_seconds)
        record.add(name="serving_default", input=label, batch_size=batch,
                   img_per_s=rate)

  record.add(name="peak_memory", host_rss_mb=measure.peak_memory_mb(),
             **{f"gpu_{k}": v for k, v in measure.gpu_peak_memory_mb().items()})
  print(f"\nhardware: {hardware}; {hardware_lib.describe()}")
  print(f"{'measurement':48s} {'img/s':>9s}  extra")
  for row in record.rows:
    rate = row.get("img_per_s")
    label = " ".join(str(row[k]) for k in ("name", "source", "input",
                                           "image_size", "batch_size",
                                           "mixed_precision", "jit_compile")
                     if k in row)
    extra = " ".join(f"{k}={row[k]:.3g}" for k in
                     ("gflops_per_img", "mfu", "speedup", "times_train_step",
                      "tflops", "host_rss_mb") if k in row)
    print(f"{label:48s} {rate if rate is not None else float('nan'):9.2f}  "
          f"{extra}")


if __name__ == "__main__":
  app.run(main)
