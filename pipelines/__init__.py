"""absl binaries over the colorizer library; each is a console script."""

import os

from colorizer import hardware

# TensorFlow's C++ INFO lines (oneDNN, CPU features) drown the progress lines
# of these binaries; warnings and errors still show. Set before TF is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

# oneDNN's kernels on every x86 CPU the user has not decided for (TensorFlow
# turns them on only with AVX-512 VNNI/BF16 or AMX); see colorizer.hardware.
hardware.enable_onednn()
