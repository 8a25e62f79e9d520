"""Which image files to colorize, and the names their outputs take.

Output names mirror the input names below the input folder (or the glob's
fixed prefix), with the extension replaced by .png. They never leave
output_dir: '..', absolute and empty path components are dropped.
"""

import glob
import os
import re
from typing import List, Optional, Tuple

from colorizer.data import image_io

COMPARE_SUFFIX = "_compare"
OUTPUT_EXTENSION = ".png"
_DRIVE = re.compile(r"[A-Za-z]:")


def sanitize_relative_name(name: str) -> str:
  """A relative path that stays inside the folder it is joined to.

  Drops empty, '.', '..' and drive components, so a hostile or odd name
  (`../../etc/x`, `/abs/x`, `C:\\x`) becomes a plain path below the output
  folder.

  Args:
    name: a relative path from the input side.

  Returns:
    A non-empty relative path using os.sep.
  """
  parts = [part for part in name.replace("\\", "/").split("/")
           if part not in ("", ".", "..") and not _DRIVE.fullmatch(part)]
  return os.path.join(*parts) if parts else "image"


def _output_name(relative_path: str) -> str:
  stem, _ = os.path.splitext(sanitize_relative_name(relative_path))
  return stem + OUTPUT_EXTENSION


def _glob_root(pattern: str) -> str:
  """The leading directories of a glob that hold no wildcard."""
  parts = []
  for part in os.path.dirname(pattern).split(os.sep):
    if glob.has_magic(part):
      break
    parts.append(part)
  return os.sep.join(parts) or "."


def is_within(path: str, folder: str) -> bool:
  path, folder = os.path.realpath(path), os.path.realpath(folder)
  return os.path.commonpath([path, folder]) == folder


def find_inputs(input_spec: str,
                exclude_dir: Optional[str] = None) -> List[Tuple[str, str]]:
  """The files to colorize and their output names.

  Args:
    input_spec: an image file, a folder (its image files, recursively) or a
      glob such as 'scans/**/*.tif' ('**' matches any depth).
    exclude_dir: files below this folder are skipped (the output folder,
      so a rerun does not colorize its own outputs), unless it is the input
      folder itself.

  Returns:
    Sorted (input path, relative output name) pairs; each name ends in .png,
    is unique, and is relative to the folder or the glob's fixed prefix.

  Raises:
    ValueError: if nothing matches.
  """
  if os.path.isfile(input_spec):
    root, paths = os.path.dirname(input_spec) or ".", [input_spec]
  elif os.path.isdir(input_spec):
    root, paths = input_spec, image_io.list_image_files(input_spec)
  else:
    root = _glob_root(input_spec)
    paths = sorted(path for path in glob.glob(input_spec, recursive=True)
                   if os.path.isfile(path))
    if not paths:
      raise ValueError(f"--input={input_spec}: no such file or folder, and "
                       "no file matches it as a glob.")
  if exclude_dir and os.path.realpath(exclude_dir) != os.path.realpath(root):
    paths = [path for path in paths if not is_within(path, exclude_dir)]
  if not paths:
    raise ValueError(f"--input={input_spec}: no image files found (looked "
                     f"for {', '.join(image_io.IMAGE_EXTENSIONS)}).")
  pairs, taken = [], set()
  for path in paths:
    name = _output_name(os.path.relpath(path, root))
    stem = os.path.splitext(name)[0]
    # photo.jpg and photo.png in one folder would both become photo.png: keep
    # the second's extension in its name, and count if even that is taken.
    extension = os.path.splitext(path)[1].lstrip(".").lower() or "image"
    candidate, count = name, 1
    while (candidate.lower() in taken or
           candidate.lower().endswith(COMPARE_SUFFIX + OUTPUT_EXTENSION)):
      suffix = extension if count == 1 else f"{extension}{count}"
      candidate = f"{stem}_{suffix}{OUTPUT_EXTENSION}"
      count += 1
    taken.add(candidate.lower())
    taken.add((os.path.splitext(candidate)[0] + COMPARE_SUFFIX +
               OUTPUT_EXTENSION).lower())
    pairs.append((path, candidate))
  return pairs
