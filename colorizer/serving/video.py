"""Colorizes videos frame by frame, with a*b* smoothed over time.

Each frame is decolorized to its CIE L*, colorized at full resolution by an
exported SavedModel's colorize_lab signature (batches of frames), and joined
with its own, untouched L*. A model that sees frames one at a time picks
slightly different colors for the same wall in consecutive frames, which
shows as flicker; an exponential moving average of a*b* over frames damps it:

  ab_shown[t] = w * ab_shown[t-1] + (1 - w) * ab_model[t],
  w = smoothing * clip(1 - |L*[t] - L*[t-1]| / motion_threshold, 0, 1)

per pixel. The motion term lets moving edges take their new color at once
instead of trailing the old one. The average restarts at a scene cut, a frame
whose mean |L*[t] - L*[t-1]| exceeds scene_cut_threshold, so no color carries
over from the previous shot. Blended a*b* is clamped into the sRGB gamut again
for each frame's own L*.

flicker() measures the result: the mean a*b* change between consecutive
frames over static pixels, whose L* barely changed, where any change in
color is flicker.
"""

import dataclasses
import fractions
import itertools
import os
import sys
import tempfile
import time
from typing import Iterable, Iterator, Optional, TextIO, Tuple

import numpy as np
import tensorflow as tf

from colorizer import color
from colorizer.data import demo_data
from colorizer import progress as progress_lib
from colorizer.serving import colorize_lib
from colorizer.serving import export
from colorizer.serving import video_io

DEFAULT_BATCH_SIZE = 8
DEFAULT_SMOOTHING = 0.6
# Mean |L* change| between consecutive frames, in L* units (0..100). Camera
# motion in the demo clip moves it by about 2, a cut by 9 to 17.
DEFAULT_SCENE_CUT_THRESHOLD = 8.0
# Per pixel: at this |L* change| a pixel is moving and is not blended.
DEFAULT_MOTION_THRESHOLD = 10.0
# Per pixel: below this |L* change| a pixel is static for flicker(); codec
# noise alone moves L* by about 0.6.
DEFAULT_STATIC_THRESHOLD = 1.0


class TemporalSmoother:
  """The moving average of a*b* over frames, fed one batch at a time."""

  def __init__(self, smoothing: float = DEFAULT_SMOOTHING,
               scene_cut_threshold: float = DEFAULT_SCENE_CUT_THRESHOLD,
               motion_threshold: float = DEFAULT_MOTION_THRESHOLD):
    """Starts with no history.

    Args:
      smoothing: weight of the past, in [0, 1); 0 turns smoothing off (cuts
        are still detected).
      scene_cut_threshold: mean |L* change| (L* units) that starts a scene.
      motion_threshold: per-pixel |L* change| at which a pixel is not
        blended at all; 0 blends every pixel with the same weight.

    Raises:
      ValueError: for values out of range.
    """
    if not 0.0 <= smoothing < 1.0:
      raise ValueError(f"smoothing={smoothing} must be in [0, 1).")
    if scene_cut_threshold <= 0:
      raise ValueError(
          f"scene_cut_threshold={scene_cut_threshold} must be > 0.")
    if motion_threshold < 0:
      raise ValueError(f"motion_threshold={motion_threshold} must be >= 0.")
    self.smoothing = smoothing
    self.scene_cut_threshold = scene_cut_threshold
    self.motion_threshold = motion_threshold
    self._previous_l_star = None  # [H, W, 1]
    self._average_ab = None  # [H, W, 2]

  def update(self, l_star: np.ndarray,
             ab: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Smooths the next frames.

    Args:
      l_star: float32 [B, H, W, 1], the frames' L*.
      ab: float32 [B, H, W, 2], the model's a*b* for them.

    Returns:
      (ab_smoothed, starts_scene): float32 [B, H, W, 2], not yet clamped to
      the gamut; bool [B], True for the first frame and after each cut.
    """
    l_star = np.asarray(l_star, np.float32)
    ab = np.asarray(ab, np.float32)
    ab_smoothed = np.empty_like(ab)
    starts_scene = np.zeros(len(l_star), bool)
    for index, (frame_l_star, frame_ab) in enumerate(zip(l_star, ab)):
      if self._previous_l_star is None:
        starts_scene[index] = True
      else:
        l_change = np.abs(frame_l_star - self._previous_l_star)  # [H, W, 1]
        starts_scene[index] = l_change.mean() > self.scene_cut_threshold
      if starts_scene[index] or self.smoothing == 0.0:
        self._average_ab = frame_ab.copy()
      else:
        weight = self.smoothing
        if self.motion_threshold:
          weight = weight * np.clip(1.0 - l_change / self.motion_threshold,
                                    0.0, 1.0)  # [H, W, 1]
        self._average_ab = weight * self._average_ab + (1.0 - weight) * frame_ab
      self._previous_l_star = frame_l_star
      ab_smoothed[index] = self._average_ab
    return ab_smoothed, starts_scene


def smooth_ab(ab_frames: np.ndarray, l_frames: np.ndarray,
              smoothing: float = DEFAULT_SMOOTHING,
              scene_cut_threshold: float = DEFAULT_SCENE_CUT_THRESHOLD,
              motion_threshold: float = DEFAULT_MOTION_THRESHOLD
             ) -> Tuple[np.ndarray, np.ndarray]:
  """TemporalSmoother over a whole clip held in memory.

  Args:
    ab_frames: float32 [T, H, W, 2].
    l_frames: float32 [T, H, W, 1].
    smoothing, scene_cut_threshold, motion_threshold: as TemporalSmoother.

  Returns:
    (ab_smoothed [T, H, W, 2], starts_scene bool [T]); no gamut clamp.
  """
  smoother = TemporalSmoother(smoothing, scene_cut_threshold,
                              motion_threshold)
  return smoother.update(l_frames, ab_frames)


class FlickerMeter:
  """Accumulates flicker() over frames fed one batch at a time."""

  def __init__(self, static_threshold: float = DEFAULT_STATIC_THRESHOLD):
    if static_threshold <= 0:
      raise ValueError(f"static_threshold={static_threshold} must be > 0.")
    self.static_threshold = static_threshold
    self.total_change = 0.0
    self.static_pixels = 0
    self._previous = None  # (l_star [H, W, 1], ab [H, W, 2])

  def update(self, ab: np.ndarray, l_star: np.ndarray,
             starts_scene: Optional[np.ndarray] = None) -> None:
    """Adds frames: ab float [B, H, W, 2], l_star [B, H, W, 1], bool [B]."""
    for index, (frame_ab, frame_l_star) in enumerate(zip(ab, l_star)):
      new_scene = starts_scene is not None and starts_scene[index]
      if self._previous is not None and not new_scene:
        previous_l_star, previous_ab = self._previous
        static = (np.abs(frame_l_star - previous_l_star)[..., 0] <
                  self.static_threshold)  # [H, W]
        change = np.linalg.norm(frame_ab - previous_ab, axis=-1)  # [H, W]
        self.total_change += float(change[static].sum())
        self.static_pixels += int(static.sum())
      self._previous = (frame_l_star, frame_ab)

  @property
  def value(self) -> float:
    """Mean a*b* change per static pixel per frame; NaN if none was static."""
    if not self.static_pixels:
      return float("nan")
    return self.total_change / self.static_pixels


def flicker(ab_frames: np.ndarray, l_frames: np.ndarray,
            static_threshold: float = DEFAULT_STATIC_THRESHOLD,
            starts_scene: Optional[np.ndarray] = None) -> float:
  """Mean frame-to-frame a*b* change on static pixels.

  For each pair of consecutive frames, the pixels whose L* changed by less
  than static_threshold are static: the scene did not move there, so any
  change of color is flicker. The result is the Euclidean a*b* change
  (Delta E*ab at constant L*) averaged over all static pixels of all pairs.

  Args:
    ab_frames: float [T, H, W, 2], a*b*.
    l_frames: float [T, H, W, 1], L* in [0, 100].
    static_threshold: |L* change| below which a pixel is static.
    starts_scene: optional bool [T]; pairs ending at a True frame (a scene
      cut) are skipped.

  Returns:
    a*b* units per frame; NaN if no pixel was static.
  """
  meter = FlickerMeter(static_threshold)
  meter.update(np.asarray(ab_frames, np.float32),
               np.asarray(l_frames, np.float32), starts_scene)
  return meter.value


def demo_clip_frames(num_frames: int = 24, width: int = 64, height: int = 48,
                     cut_frame: Optional[int] = None,
                     scenes: Tuple[int, int] = (2, 5)) -> np.ndarray:
  """A test clip: a slow pan over one demo scene, then a still shot.

  The camera pans right by one pixel per frame over demo scene scenes[0]
  until cut_frame, then cuts to scene scenes[1] and holds still.

  Args:
    num_frames: clip length.
    width: frame width in pixels.
    height: frame height in pixels.
    cut_frame: the first frame of the second shot; default the middle.
    scenes: the two demo_data scene indices.

  Returns:
    uint8 [num_frames, height, width, 3].
  """
  cut_frame = num_frames // 2 if cut_frame is None else cut_frame
  size = max(width + cut_frame, height)
  panned = demo_data.render_scene(scenes[0], size).numpy()  # [S, S, 3]
  still = demo_data.render_scene(scenes[1], size).numpy()
  top = (size - height) // 2
  return np.stack([
      panned[top:top + height, frame:frame + width] if frame < cut_frame
      else still[top:top + height, :width] for frame in range(num_frames)])


@tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8)])
def _l_star(rgb_uint8):
  return color.rgb_to_lab(color.rgb_uint8_to_float(rgb_uint8))[..., :1]


@tf.function(input_signature=[tf.TensorSpec([None, None, None, 1], tf.float32),
                              tf.TensorSpec([None, None, None, 2], tf.float32),
                              tf.TensorSpec([], tf.bool)])
def _render(l_star, ab, clamp):
  # Blends of in-gamut colors at other frames' L* may leave the gamut at this
  # frame's L*; the model's own output is clamped already.
  ab = tf.cond(clamp, lambda: color.clamp_ab_to_gamut(l_star, ab),
               lambda: ab)
  rgb = color.lab_to_rgb(tf.concat([l_star, ab], axis=-1))
  return color.rgb_float_to_uint8(rgb), ab


def _batches(frames: Iterable[np.ndarray],
             batch_size: int) -> Iterator[np.ndarray]:
  frames = iter(frames)
  while batch := list(itertools.islice(frames, batch_size)):
    yield np.stack(batch)


@dataclasses.dataclass
class VideoSummary:
  """What colorize_video did.

  Attributes:
    output_path: the video written.
    frames: frames colorized.
    width, height: frame size in pixels.
    frame_rate: exact frames per second, the input's.
    scene_cuts: cuts detected (smoothing restarted there).
    audio_streams: audio streams carried over from the input.
    audio: 'copied', 'aac' (re-encoded for the container) or 'none'.
    seconds: wall time.
    flicker_model: flicker() of the model's a*b*.
    flicker_output: flicker() of the a*b* written (smoothed, clamped).
  """
  output_path: str
  frames: int = 0
  width: int = 0
  height: int = 0
  frame_rate: fractions.Fraction = fractions.Fraction(0)
  scene_cuts: int = 0
  audio_streams: int = 0
  audio: str = "none"
  seconds: float = 0.0
  flicker_model: float = float("nan")
  flicker_output: float = float("nan")

  def describe(self) -> str:
    audio = (f"{self.audio_streams} audio stream(s) {self.audio}"
             if self.audio_streams else "no audio")
    return (f"{self.frames} frames {self.width}x{self.height} at "
            f"{float(self.frame_rate):.3f} fps ({self.frame_rate}), "
            f"{self.scene_cuts} scene cut(s), {audio}, in "
            f"{self.seconds:.1f}s: {self.output_path}")

  def describe_flicker(self) -> str:
    change = (f" ({self.flicker_output / self.flicker_model - 1.0:+.0%})"
              if self.flicker_model > 0 else "")
    return (f"flicker (mean a*b* change per frame on static pixels): "
            f"{self.flicker_model:.3f} without smoothing, "
            f"{self.flicker_output:.3f} written{change}")


def default_output_path(input_path: str) -> str:
  """input.ext -> input_colorized.mp4, beside the input."""
  return os.path.splitext(input_path)[0] + "_colorized.mp4"


def _check_paths(input_path: str, output_path: str) -> None:
  extension = os.path.splitext(output_path)[1].lower()
  if extension not in video_io.OUTPUT_EXTENSIONS:
    raise ValueError(f"--output={output_path}: the extension must be one of "
                     f"{', '.join(video_io.OUTPUT_EXTENSIONS)}.")
  if os.path.realpath(output_path) == os.path.realpath(input_path):
    raise ValueError(f"--output={output_path} would overwrite the input.")


def _load_lab_model(model_path: str):
  """The loaded SavedModel, checked for the colorize_lab signature."""
  _, loaded, metadata = colorize_lib.load_export(model_path)
  if metadata.get("input_mode", "grayscale") != "grayscale":
    raise ValueError(f"--model={model_path} is a --input_mode="
                     f"{metadata['input_mode']} model; videos need a "
                     "grayscale one.")
  if export.LAB_SIGNATURE not in loaded.signatures:
    raise ValueError(f"--model={model_path} has no {export.LAB_SIGNATURE} "
                     "signature; re-export it with this version of "
                     "colorizer-export.")
  return loaded


def colorize_video(model_path: str, input_path: str,
                   output_path: Optional[str] = None,
                   batch_size: int = DEFAULT_BATCH_SIZE,
                   smoothing: float = DEFAULT_SMOOTHING,
                   scene_cut_threshold: float = DEFAULT_SCENE_CUT_THRESHOLD,
                   motion_threshold: float = DEFAULT_MOTION_THRESHOLD,
                   crf: int = video_io.DEFAULT_CRF,
                   measure_flicker: bool = True, progress: bool = True,
                   stream: Optional[TextIO] = None) -> VideoSummary:
  """Colorizes a video at full resolution, keeping its rate and audio.

  The output is written beside its final path and renamed into place at the
  end, so a failed run leaves no half-written video.

  Args:
    model_path: a SavedModel version dir or model base dir.
    input_path: any video ffmpeg reads; color video is decolorized.
    output_path: .mp4, .mkv, .mov or .m4v; default input_colorized.mp4.
    batch_size: frames per model call.
    smoothing, scene_cut_threshold, motion_threshold: see TemporalSmoother.
    crf: x264 quality, 0 (lossless) to 51.
    measure_flicker: fill the summary's flicker fields (costs about a tenth
      of the time per frame).
    progress: draw a progress bar on stream.
    stream: for the progress bar; default sys.stderr.

  Returns:
    A VideoSummary.

  Raises:
    ValueError: for a bad argument, model or input (one-line message).
    video_io.VideoError: if ffmpeg fails while decoding or writing.
  """
  start = time.monotonic()
  if batch_size < 1:
    raise ValueError(f"batch_size={batch_size} must be >= 1.")
  if not 0 <= crf <= 51:
    raise ValueError(f"crf={crf} must be in [0, 51].")
  output_path = output_path or default_output_path(input_path)
  _check_paths(input_path, output_path)
  smoother = TemporalSmoother(smoothing, scene_cut_threshold, motion_threshold)
  info = video_io.probe(input_path)  # Fails fast, before the model loads.
  # The loaded object owns the variables its signatures read: keep it.
  loaded = _load_lab_model(model_path)
  colorize_lab = loaded.signatures[export.LAB_SIGNATURE]
  model_meter, output_meter = FlickerMeter(), FlickerMeter()
  summary = VideoSummary(output_path=output_path, frame_rate=info.frame_rate,
                         audio_streams=info.audio_streams)
  bar = progress_lib.ProgressBar(max(info.estimated_frames, 1),
                                 stream=stream or sys.stderr, enabled=progress)
  output_dir = os.path.dirname(os.path.abspath(output_path))
  os.makedirs(output_dir, exist_ok=True)
  extension = os.path.splitext(output_path)[1]
  with tempfile.TemporaryDirectory(dir=output_dir,
                                   prefix=".colorize-video-") as temp_dir:
    video_only = os.path.join(temp_dir, "video" + extension)
    writer = None
    try:
      for rgb_uint8 in _batches(video_io.read_frames(info), batch_size):
        if writer is None:
          summary.height, summary.width = rgb_uint8.shape[1:3]
          writer = video_io.FrameWriter(video_only, summary.width,
                                        summary.height, info.frame_rate, crf)
        l_star = _l_star(rgb_uint8)  # [B, H, W, 1]
        ab_model = colorize_lab(**{export.INPUT_L: l_star})[export.OUTPUT_AB]
        l_star, ab_model = l_star.numpy(), ab_model.numpy()
        ab_smoothed, starts_scene = smoother.update(l_star, ab_model)
        rgb_out, ab_out = _render(l_star, ab_smoothed,
                                  tf.constant(smoothing > 0))
        writer.write(rgb_out.numpy())
        if measure_flicker:
          model_meter.update(ab_model, l_star, starts_scene)
          output_meter.update(ab_out.numpy(), l_star, starts_scene)
        summary.frames += len(rgb_uint8)
        summary.scene_cuts += int(starts_scene.sum())
        for _ in range(len(rgb_uint8)):
          bar.total = max(bar.total, bar.done + 1)
          bar.advance()
    except BaseException:
      if writer is not None:
        writer.abort()
      raise
    finally:
      bar.close()
    if writer is None:
      raise ValueError(f"{input_path}: the video has no frames.")
    writer.close()
    # The first frame starts a scene too but is no cut.
    summary.scene_cuts -= 1
    final = os.path.join(temp_dir, "final" + extension)
    summary.audio = video_io.mux_audio(video_only, input_path, final)
    os.replace(final, output_path)
  summary.audio = summary.audio if info.audio_streams else "none"
  summary.flicker_model = model_meter.value
  summary.flicker_output = output_meter.value
  summary.seconds = time.monotonic() - start
  return summary
