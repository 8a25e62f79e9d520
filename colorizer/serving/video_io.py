"""Video files through the ffmpeg binary that the imageio-ffmpeg wheel ships.

Nothing here needs a system ffmpeg: imageio_ffmpeg.get_ffmpeg_exe() is a
static build inside the wheel, with libx264 and AAC. Frames cross the process
boundary as raw rgb24 on a pipe, so every container and codec that ffmpeg
decodes is read, and ffmpeg's own decoder applies the rotation phones record.

  probe(path)          -> VideoInfo: size is read later, frame rate exact
  read_frames(...)     -> uint8 [H, W, 3] frames at exactly that frame rate
  FrameWriter          <- uint8 [B, H, W, 3] frames, H.264 in any container
  mux_audio(...)       the original's audio streams copied beside a new video

Colors: frames are written as BT.709 limited-range YUV and tagged so, which
is how players show HD video; 4:2:0 chroma unless a side is odd (4:4:4 then,
since 4:2:0 needs even sides).
"""

import dataclasses
import fractions
import logging
import os
import re
import subprocess
import tempfile
from typing import Iterator, List, Optional, Sequence, Tuple

import imageio_ffmpeg
import numpy as np

# Containers the output may use: all take H.264 and AAC.
OUTPUT_EXTENSIONS = (".mp4", ".mkv", ".mov", ".m4v")
DEFAULT_CRF = 18
_FASTSTART_EXTENSIONS = (".mp4", ".mov", ".m4v")
# ffmpeg prints rates rounded to 2 decimals; NTSC rates are N * 1000 / 1001.
_RATE_TOLERANCE = 0.006
_NTSC_FACTOR = fractions.Fraction(1000, 1001)
_STREAM = re.compile(r"^\s*Stream #\d+:\d+.*?: (Video|Audio): (.*)$")
_RATE = re.compile(r"([\d.]+)(k?) (fps|tbr)\b")
_DURATION = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")
# Lines ffmpeg prints for an input-only run that say nothing about the input.
_PROBE_NOISE = ("At least one output file must be specified",
                "Use -h to get full help")


class VideoError(RuntimeError):
  """ffmpeg failed on a file it had accepted (a write, a mux, a bad frame)."""


@dataclasses.dataclass(frozen=True)
class VideoInfo:
  """What probe() learns about a video without decoding it.

  Attributes:
    path: the file.
    frame_rate: frames per second, exact (24000/1001, not 23.98).
    duration_s: the container's duration in seconds; 0.0 if unknown.
    audio_streams: how many audio streams the file holds.
    video_codec: the first video stream's codec name, e.g. 'h264'.
  """
  path: str
  frame_rate: fractions.Fraction
  duration_s: float
  audio_streams: int
  video_codec: str

  @property
  def estimated_frames(self) -> int:
    """Frames expected at frame_rate over duration_s (0 if unknown)."""
    return int(round(self.duration_s * self.frame_rate))


def ffmpeg_exe() -> str:
  """The path of the ffmpeg binary bundled with imageio-ffmpeg."""
  return imageio_ffmpeg.get_ffmpeg_exe()


def exact_frame_rate(rounded_fps: float) -> fractions.Fraction:
  """The exact rate behind the rounded one ffmpeg prints.

  Writing 23.98 fps where the source has 24000/1001 would drift from its
  audio by 0.15 s an hour; NTSC rates are therefore recognized, other rates
  are taken as printed.

  Args:
    rounded_fps: e.g. 23.98, 29.97, 25.0 or 12.5.

  Returns:
    e.g. 24000/1001, 30000/1001, 25 or 25/2.

  Raises:
    ValueError: if rounded_fps is not positive.
  """
  if rounded_fps <= 0:
    raise ValueError(f"frame rate {rounded_fps} is not positive")
  whole = fractions.Fraction(round(rounded_fps))
  ntsc = fractions.Fraction(round(rounded_fps / _NTSC_FACTOR)) * _NTSC_FACTOR
  for candidate in (whole, ntsc):
    if candidate > 0 and abs(candidate - rounded_fps) < _RATE_TOLERANCE:
      return candidate
  return fractions.Fraction(rounded_fps).limit_denominator(1001)


def _ffmpeg_error(stderr: str, path: Optional[str] = None) -> str:
  """ffmpeg's last meaningful stderr line, without a leading 'path: '."""
  lines = [line.strip() for line in stderr.splitlines()]
  lines = [line for line in lines if line and not line.startswith(_PROBE_NOISE)]
  if not lines:
    return "ffmpeg failed without a message"
  line = lines[-1]
  if path and line.startswith(path + ": "):
    line = line[len(path) + 2:]
  return line


def parse_probe(path: str, stderr: str) -> VideoInfo:
  """Reads a VideoInfo from what `ffmpeg -i path` wrote on stderr.

  Args:
    path: the probed file, for messages.
    stderr: ffmpeg's header, or its error.

  Returns:
    A VideoInfo.

  Raises:
    ValueError: if the text names no video stream (an error, an audio-only
      file, or one whose only picture is cover art) or no frame rate.
  """
  video_lines, audio_streams = [], 0
  for line in stderr.splitlines():
    match = _STREAM.match(line)
    if not match:
      continue
    if match.group(1) == "Audio":
      audio_streams += 1
    elif "(attached pic)" not in line:
      video_lines.append(match.group(2))
  if not video_lines:
    if audio_streams or "Input #" in stderr:
      raise ValueError(f"{path}: no video stream")
    raise ValueError(f"{path}: not a video ffmpeg can read "
                     f"({_ffmpeg_error(stderr, path)})")
  rates = {unit: float(value) * (1000 if kilo else 1)
           for value, kilo, unit in _RATE.findall(video_lines[0])}
  rate = rates.get("fps") or rates.get("tbr")
  if not rate:
    raise ValueError(f"{path}: the video stream has no frame rate")
  duration = _DURATION.search(stderr)
  duration_s = (int(duration.group(1)) * 3600 + int(duration.group(2)) * 60 +
                float(duration.group(3))) if duration else 0.0
  return VideoInfo(path=path, frame_rate=exact_frame_rate(rate),
                   duration_s=duration_s, audio_streams=audio_streams,
                   video_codec=video_lines[0].split(maxsplit=1)[0])


def probe(path: str) -> VideoInfo:
  """Probes a video with `ffmpeg -i` (headers only, nothing decoded).

  Args:
    path: a video file.

  Returns:
    Its VideoInfo.

  Raises:
    ValueError: for a missing file, one ffmpeg cannot read, or one without a
      video stream; the message is one line.
  """
  if not os.path.isfile(path):
    raise ValueError(f"{path}: no such file")
  result = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i",
                           path], capture_output=True, text=True,
                          errors="replace", check=False)
  return parse_probe(path, result.stderr)


def read_frames(info: VideoInfo) -> Iterator[np.ndarray]:
  """Decodes a video's first video stream to RGB frames.

  Frames come at exactly info.frame_rate: a variable-rate video (phones
  record them) has frames repeated or dropped to that rate, so a writer at
  the same rate stays in sync with the original's audio.

  Args:
    info: from probe().

  Yields:
    uint8 [H, W, 3], upright (ffmpeg applies rotation metadata).

  Raises:
    VideoError: if ffmpeg stops before a frame is complete.
  """
  frames = imageio_ffmpeg.read_frames(
      info.path, pix_fmt="rgb24", input_params=["-nostdin"],
      output_params=["-map", "0:v:0", "-fps_mode", "cfr",
                     "-r", str(info.frame_rate)])
  try:
    # imageio-ffmpeg warns when the frames' size is not the stored one: a
    # rotation that ffmpeg applies on purpose here.
    logger = logging.getLogger("imageio_ffmpeg")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
      metadata = next(frames)
    finally:
      logger.setLevel(level)
    width, height = metadata["size"]
    for frame_bytes in frames:
      yield np.frombuffer(frame_bytes, np.uint8).reshape(height, width, 3)
  except (OSError, RuntimeError) as error:
    raise VideoError(f"{info.path}: cannot decode: "
                     f"{_ffmpeg_error(str(error), info.path)}") from error
  finally:
    frames.close()


class FrameWriter:
  """Encodes RGB frames to H.264 with the bundled ffmpeg.

  Use as a context manager: leaving it normally finishes the file and raises
  VideoError if ffmpeg failed; leaving it on an exception kills ffmpeg.
  """

  def __init__(self, path: str, width: int, height: int,
               frame_rate: fractions.Fraction, crf: int = DEFAULT_CRF,
               tone_hz: Optional[float] = None):
    """Starts ffmpeg.

    Args:
      path: the output; its extension picks the container.
      width: frame width in pixels.
      height: frame height in pixels.
      frame_rate: exact frames per second.
      crf: x264 constant rate factor, 0 (lossless) to 51; 18 is visually
        lossless for most footage.
      tone_hz: if set, a sine tone at this frequency becomes the audio (AAC),
        as long as the video: for demo and test clips.
    """
    self.path = path
    self.shape = (height, width, 3)
    self.frames_written = 0
    # 4:2:0 halves both sides of the chroma planes, so it needs even sides.
    pixel_format = "yuv420p" if width % 2 == 0 and height % 2 == 0 else (
        "yuv444p")
    command = [ffmpeg_exe(), "-y", "-nostdin", "-v", "error",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
               "-r", str(frame_rate), "-i", "-"]
    if tone_hz:
      command += ["-f", "lavfi", "-i", f"sine=frequency={tone_hz}:"
                  "sample_rate=48000", "-map", "0:v", "-map", "1:a",
                  "-c:a", "aac", "-shortest"]
    else:
      command += ["-an"]
    # RGB -> YUV with the BT.709 matrix, and tagged BT.709 so that players
    # invert that matrix (setparams: libx264 takes the tags from the frames).
    filters = (f"scale=out_color_matrix=bt709:out_range=tv,"
               f"format={pixel_format},setparams=colorspace=bt709:"
               "color_primaries=bt709:color_trc=bt709:range=tv")
    command += ["-vf", filters, "-c:v", "libx264", "-preset", "medium",
                "-crf", str(crf), path]
    # A file, not a pipe: an unread stderr pipe can fill and stall ffmpeg.
    self._stderr = tempfile.TemporaryFile()
    self._process = subprocess.Popen(command, stdin=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL,
                                     stderr=self._stderr)

  def _error(self) -> str:
    self._stderr.seek(0)
    return _ffmpeg_error(self._stderr.read().decode("utf-8", "replace"))

  def write(self, rgb_uint8: np.ndarray) -> None:
    """Appends frames.

    Args:
      rgb_uint8: uint8 [B, H, W, 3] or [H, W, 3].

    Raises:
      ValueError: for frames of another size or dtype.
      VideoError: if ffmpeg has stopped.
    """
    frames = np.asarray(rgb_uint8)
    frames = frames[None] if frames.ndim == 3 else frames
    if frames.dtype != np.uint8 or frames.shape[1:] != self.shape:
      raise ValueError(f"frames must be uint8 [B, {self.shape[0]}, "
                       f"{self.shape[1]}, 3], got {frames.dtype} "
                       f"{list(frames.shape)}")
    try:
      self._process.stdin.write(np.ascontiguousarray(frames).tobytes())
    except (BrokenPipeError, OSError) as error:
      self._process.wait()
      raise VideoError(f"encoding {self.path} failed: {self._error()}") from (
          error)
    self.frames_written += len(frames)

  def close(self) -> None:
    """Finishes the file.

    Raises:
      VideoError: if ffmpeg failed.
    """
    try:
      self._process.stdin.close()
    except (BrokenPipeError, OSError):
      pass  # ffmpeg is gone already; its status says why.
    status = self._process.wait()
    error = self._error() if status else ""
    self._stderr.close()
    if status:
      raise VideoError(f"encoding {self.path} failed: {error}")

  def abort(self) -> None:
    """Stops ffmpeg without finishing the file."""
    self._process.kill()
    self._process.wait()
    self._stderr.close()

  def __enter__(self) -> "FrameWriter":
    return self

  def __exit__(self, error_type, error, traceback) -> None:
    if error_type is None:
      self.close()
    else:
      self.abort()


def _run_ffmpeg(arguments: Sequence[str]) -> Tuple[int, str]:
  result = subprocess.run([ffmpeg_exe(), "-y", "-nostdin", "-v", "error",
                           *arguments], capture_output=True, text=True,
                          errors="replace", check=False)
  return result.returncode, result.stderr


def mux_audio(video_path: str, source_path: str, output_path: str) -> str:
  """Writes video_path's video with source_path's audio and metadata.

  All of the source's audio streams are copied as they are ('1:a?': none is
  fine). If the output container does not take their codec (PCM in MP4, say),
  they are re-encoded to AAC instead.

  Args:
    video_path: the new video (its first video stream is used).
    source_path: the original, whose audio streams and global metadata
      (title, creation time) are kept.
    output_path: the result; its extension picks the container.

  Returns:
    'copied' or 'aac': how the audio got there.

  Raises:
    VideoError: if ffmpeg fails both ways.
  """
  options: List[str] = ["-i", video_path, "-i", source_path,
                        "-map", "0:v:0", "-map", "1:a?", "-map_metadata", "1"]
  if os.path.splitext(output_path)[1].lower() in _FASTSTART_EXTENSIONS:
    # The index first, so players and browsers start before the download ends.
    options += ["-movflags", "+faststart"]
  status, _ = _run_ffmpeg(options + ["-c", "copy", output_path])
  if status == 0:
    return "copied"
  status, stderr = _run_ffmpeg(options + ["-c:v", "copy", "-c:a", "aac",
                                          "-b:a", "192k", output_path])
  if status:
    raise VideoError(f"writing {output_path} failed: {_ffmpeg_error(stderr)}")
  return "aac"
