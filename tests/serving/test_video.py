"""Tests for colorizer.serving.video, colorizer.serving.video_io and colorizer-colorize-video.

The clips are generated here: demo scenes, a slow pan, a cut in the middle
to a still shot, and a sine tone, encoded with the ffmpeg that imageio-ffmpeg
bundles. The model is an untrained tiny generator whose last layer is scaled
up so that its colors are vivid (as in tests/serving/conftest.py): what is
checked is the plumbing and the smoothing, not the colors.
"""

import fractions
import os
import subprocess
import sys

import numpy as np
import pytest

from colorizer import color
from colorizer import presets
from colorizer.model import networks
from colorizer.serving import export
from colorizer.serving import video
from colorizer.serving import video_io
from tests import binaries
from tests import conftest

REPO_ROOT = conftest.REPO_ROOT
NUM_FRAMES, WIDTH, HEIGHT, CUT_FRAME = 24, 64, 48, 12
NTSC_FILM = fractions.Fraction(24000, 1001)
# Output L* vs input L*, both decoded: the output's 8-bit RGB is re-encoded
# by x264 (CRF 18, 4:2:0 chroma), which moves L* by about 0.6 on average on
# this tiny clip (95th percentile 1.5), more at sharp color edges.
MEAN_L_ERROR = 1.5
P95_L_ERROR = 3.0


def _l_star(rgb_uint8: np.ndarray) -> np.ndarray:
  """uint8 [..., 3] -> float32 [..., 1]."""
  lab = color.rgb_to_lab(color.rgb_uint8_to_float(rgb_uint8))
  return lab[..., :1].numpy()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
  config = presets.tiny()
  generator = networks.build_generator(config, seed=3)
  layer = generator.get_layer("ab_deconv")
  kernel, bias = layer.get_weights()
  layer.set_weights([kernel * 100.0, bias])
  return export.export(generator, config,
                       str(tmp_path_factory.mktemp("models")), "tiny")


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
  """The demo clip as frames, and as files with and without audio."""
  folder = tmp_path_factory.mktemp("clips")
  frames = video.demo_clip_frames(NUM_FRAMES, WIDTH, HEIGHT, CUT_FRAME)
  with_audio = str(folder / "with_audio.mp4")
  with video_io.FrameWriter(with_audio, WIDTH, HEIGHT, NTSC_FILM,
                            tone_hz=440) as writer:
    writer.write(frames)
  silent = str(folder / "silent.mkv")
  with video_io.FrameWriter(silent, WIDTH, HEIGHT,
                            fractions.Fraction(25)) as writer:
    writer.write(frames)
  return {"frames": frames, "with_audio": with_audio, "silent": silent}


def _run_binary(*flags_and_values, timeout=120):
  return subprocess.run(
      [sys.executable, "-m", "pipelines.colorize_video", *flags_and_values],
      capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT,
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))


# ----------------------------------------------------------------- video_io


@pytest.mark.parametrize("rounded, exact", [
    (23.98, NTSC_FILM), (29.97, fractions.Fraction(30000, 1001)),
    (59.94, fractions.Fraction(60000, 1001)), (25.0, fractions.Fraction(25)),
    (30.0, fractions.Fraction(30)), (12.5, fractions.Fraction(25, 2))])
def test_exact_frame_rate(rounded, exact):
  assert video_io.exact_frame_rate(rounded) == exact


_HEADER = """Input #0, matroska,webm, from 'x.mkv':
  Duration: 00:01:02.50, start: 0.000000, bitrate: 107 kb/s
  Stream #0:0(eng): Video: h264 (High), yuv420p(tv, bt709, progressive), 1920x1080, 29.97 fps, 29.97 tbr, 1k tbn
  Stream #0:1(eng): Audio: aac (LC), 48000 Hz, stereo, fltp
  Stream #0:2(fra): Audio: ac3, 48000 Hz, 5.1(side), fltp, 384 kb/s
At least one output file must be specified
"""


def test_parse_probe_reads_rate_duration_and_audio():
  info = video_io.parse_probe("x.mkv", _HEADER)
  assert info.frame_rate == fractions.Fraction(30000, 1001)
  assert info.duration_s == pytest.approx(62.5)
  assert info.audio_streams == 2 and info.video_codec == "h264"
  assert info.estimated_frames == 1873


@pytest.mark.parametrize("stderr, message", [
    ("Input #0, mp3, from 'a.mp3':\n  Duration: 00:00:03.00\n"
     "  Stream #0:0: Audio: mp3, 44100 Hz, stereo\n"
     "  Stream #0:1: Video: mjpeg, yuvj420p, 500x500, 90k tbr (attached pic)\n",
     "a.mp3: no video stream"),
    ("[in#0 @ 0x1] Error opening input: Invalid data found when processing "
     "input\na.mp3: Invalid data found when processing input\n",
     "a.mp3: not a video ffmpeg can read (Invalid data found when processing "
     "input)"),
])
def test_parse_probe_refuses_non_video(stderr, message):
  with pytest.raises(ValueError) as raised:
    video_io.parse_probe("a.mp3", stderr)
  assert str(raised.value) == message


def test_written_clip_probes_and_decodes_as_written(clips):
  info = video_io.probe(clips["with_audio"])
  assert info.frame_rate == NTSC_FILM and info.audio_streams == 1
  assert info.estimated_frames == NUM_FRAMES
  decoded = np.stack(list(video_io.read_frames(info)))
  assert decoded.shape == (NUM_FRAMES, HEIGHT, WIDTH, 3)
  l_error = np.abs(_l_star(decoded) - _l_star(clips["frames"]))
  assert l_error.mean() < MEAN_L_ERROR


def test_odd_frame_size_is_kept(tmp_path):
  path = str(tmp_path / "odd.mp4")
  frames = np.random.RandomState(0).randint(0, 256, (3, 15, 17, 3), np.uint8)
  with video_io.FrameWriter(path, 17, 15, fractions.Fraction(10)) as writer:
    writer.write(frames)
  decoded = list(video_io.read_frames(video_io.probe(path)))
  assert len(decoded) == 3 and decoded[0].shape == (15, 17, 3)


def test_frame_writer_refuses_other_sizes(tmp_path):
  with video_io.FrameWriter(str(tmp_path / "x.mp4"), 16, 16,
                            fractions.Fraction(10)) as writer:
    with pytest.raises(ValueError, match=r"uint8 \[B, 16, 16, 3\]"):
      writer.write(np.zeros((1, 16, 18, 3), np.uint8))
    writer.write(np.zeros((16, 16, 3), np.uint8))


def test_mux_re_encodes_audio_the_container_refuses(clips, tmp_path):
  # mu-law PCM cannot go into MP4: the audio is re-encoded to AAC instead.
  source = str(tmp_path / "mulaw.mkv")
  subprocess.run([video_io.ffmpeg_exe(), "-v", "error", "-i", clips["silent"],
                  "-f", "lavfi", "-i", "sine=duration=1", "-map", "0:v",
                  "-map", "1:a", "-c:v", "copy", "-c:a", "pcm_mulaw", source],
                 check=True, capture_output=True)
  output = str(tmp_path / "out.mp4")
  assert video_io.mux_audio(clips["silent"], source, output) == "aac"
  assert video_io.probe(output).audio_streams == 1


# ------------------------------------------------------ smoothing, flicker


def _two_scenes(height=4, width=5, seed=0):
  """L* 50 for frames 0-4, a cut, L* 80 for frames 5-9; random a*b*."""
  l_frames = np.concatenate([np.full((5, height, width, 1), 50.0),
                             np.full((5, height, width, 1), 80.0)])
  ab_frames = np.random.RandomState(seed).uniform(
      -40, 40, (10, height, width, 2))
  return l_frames.astype(np.float32), ab_frames.astype(np.float32)


def test_smoothing_is_a_moving_average_that_restarts_at_the_cut():
  l_frames, ab_frames = _two_scenes()
  smoothed, starts_scene = video.smooth_ab(ab_frames, l_frames, smoothing=0.6)
  assert starts_scene.tolist() == [True] + [False] * 4 + [True] + [False] * 4
  expected = ab_frames[0]
  for frame in range(1, 5):
    expected = 0.6 * expected + 0.4 * ab_frames[frame]
    np.testing.assert_allclose(smoothed[frame], expected, atol=1e-4)
  # The first frame after the cut owes nothing to the previous scene.
  np.testing.assert_array_equal(smoothed[5], ab_frames[5])
  np.testing.assert_allclose(smoothed[6], 0.6 * ab_frames[5] +
                             0.4 * ab_frames[6], atol=1e-4)


def test_smoothing_spares_moving_pixels():
  l_frames = np.full((2, 1, 3, 1), 50.0, np.float32)
  l_frames[1, 0, 1] = 55.0  # Half the motion threshold: half the weight.
  l_frames[1, 0, 2] = 70.0  # Beyond it: not blended.
  ab_frames = np.stack([np.zeros((1, 3, 2)), np.full((1, 3, 2), 10.0)])
  smoothed, _ = video.smooth_ab(ab_frames, l_frames, smoothing=0.6,
                                scene_cut_threshold=50.0,
                                motion_threshold=10.0)
  np.testing.assert_allclose(smoothed[1, 0, :, 0], [4.0, 7.0, 10.0],
                             rtol=1e-5)


def test_smoother_carries_its_state_across_batches():
  l_frames, ab_frames = _two_scenes()
  whole, whole_starts = video.smooth_ab(ab_frames, l_frames)
  smoother = video.TemporalSmoother()
  parts = [smoother.update(l_frames[i:i + 3], ab_frames[i:i + 3])
           for i in range(0, 10, 3)]
  np.testing.assert_allclose(np.concatenate([p[0] for p in parts]), whole,
                             rtol=1e-6)
  assert np.concatenate([p[1] for p in parts]).tolist() == (
      whole_starts.tolist())


def test_zero_smoothing_changes_nothing():
  l_frames, ab_frames = _two_scenes()
  smoothed, _ = video.smooth_ab(ab_frames, l_frames, smoothing=0.0)
  np.testing.assert_array_equal(smoothed, ab_frames)


@pytest.mark.parametrize("arguments", [
    {"smoothing": 1.0}, {"smoothing": -0.1}, {"scene_cut_threshold": 0.0},
    {"motion_threshold": -1.0}])
def test_smoother_refuses_bad_values(arguments):
  with pytest.raises(ValueError):
    video.TemporalSmoother(**arguments)


def test_flicker_counts_static_pixels_only():
  l_frames = np.full((2, 2, 2, 1), 50.0, np.float32)
  l_frames[1, 1] = 70.0  # The bottom row moves.
  ab_frames = np.zeros((2, 2, 2, 2), np.float32)
  ab_frames[1, 0] = [3.0, 4.0]  # Static pixels: a change of 5.
  ab_frames[1, 1] = [30.0, 40.0]  # Moving pixels: ignored.
  assert video.flicker(ab_frames, l_frames, static_threshold=1.0) == (
      pytest.approx(5.0))
  assert np.isnan(video.flicker(ab_frames, l_frames, 1.0,
                                starts_scene=np.array([True, True])))


def test_flicker_of_smoothed_noise_matches_the_formula():
  # a*b* = white noise (sigma per channel) on a still scene. Frame-to-frame
  # changes of the raw noise have sigma * sqrt(2); of its moving average
  # y = s * y + (1 - s) * x, sigma * sqrt(2) * (1 - s) / sqrt(1 + s). Both
  # are isotropic 2-D Gaussians, so their mean lengths keep that ratio.
  smoothing = 0.6
  l_frames = np.full((400, 8, 8, 1), 50.0, np.float32)
  ab_frames = np.random.RandomState(0).normal(0, 3.0, (400, 8, 8, 2))
  smoothed, _ = video.smooth_ab(ab_frames, l_frames, smoothing)
  ratio = (video.flicker(smoothed, l_frames) /
           video.flicker(ab_frames, l_frames))
  assert ratio == pytest.approx((1 - smoothing) / np.sqrt(1 + smoothing),
                                rel=0.05)


def test_demo_clip_has_a_slow_pan_and_one_cut():
  frames = video.demo_clip_frames(NUM_FRAMES, WIDTH, HEIGHT, CUT_FRAME)
  assert frames.shape == (NUM_FRAMES, HEIGHT, WIDTH, 3)
  l_change = np.abs(np.diff(_l_star(frames), axis=0)).mean(axis=(1, 2, 3))
  cut = CUT_FRAME - 1  # l_change[i]: frame i -> i + 1.
  assert l_change[cut] > video.DEFAULT_SCENE_CUT_THRESHOLD
  assert np.delete(l_change, cut).max() < video.DEFAULT_SCENE_CUT_THRESHOLD / 2
  np.testing.assert_array_equal(frames[CUT_FRAME + 1], frames[-1])


# ------------------------------------------------------------------ binary


def _flicker_numbers(stdout: str):
  line = [line for line in stdout.splitlines() if line.startswith("flicker")]
  assert len(line) == 1, stdout
  words = line[0].split(":", 1)[1].split()
  return float(words[0]), float(words[3])


def test_binary_colorizes_a_clip_with_audio(model_dir, clips, tmp_path):
  output = str(tmp_path / "out" / "colorized.mp4")
  result = _run_binary(f"--model={os.path.dirname(model_dir)}",
                       f"--input={clips['with_audio']}", f"--output={output}",
                       "--report_flicker", "--batch_size=5")
  assert result.returncode == 0, result.stderr
  assert f"{NUM_FRAMES}/{NUM_FRAMES}" in result.stderr  # The progress bar.
  assert "1 scene cut(s)" in result.stdout
  assert "1 audio stream(s) copied" in result.stdout
  info = video_io.probe(output)
  assert info.frame_rate == NTSC_FILM
  assert info.audio_streams == 1
  colorized = np.stack(list(video_io.read_frames(info)))
  assert colorized.shape == (NUM_FRAMES, HEIGHT, WIDTH, 3)
  original = np.stack(list(video_io.read_frames(
      video_io.probe(clips["with_audio"]))))
  l_error = np.abs(_l_star(colorized) - _l_star(original))
  assert l_error.mean() < MEAN_L_ERROR
  assert np.percentile(l_error, 95) < P95_L_ERROR
  # Colors were added: the vivid model's chroma is far from gray.
  ab = color.rgb_to_lab(color.rgb_uint8_to_float(colorized))[..., 1:]
  assert np.linalg.norm(ab.numpy(), axis=-1).mean() > 5.0
  model_flicker, output_flicker = _flicker_numbers(result.stdout)
  assert 0 < output_flicker < model_flicker
  leftovers = [name for name in os.listdir(os.path.dirname(output))
               if name != "colorized.mp4"]
  assert not leftovers


def test_colorize_video_without_audio(model_dir, clips, tmp_path):
  # In-process: the binary adds nothing here, and a TensorFlow start costs
  # seconds.
  output = str(tmp_path / "silent_colorized.mkv")
  summary = video.colorize_video(model_dir, clips["silent"], output,
                                 smoothing=0.0, progress=False)
  assert (summary.frames, summary.scene_cuts, summary.audio) == (
      NUM_FRAMES, 1, "none")
  assert "no audio" in summary.describe()
  # Without smoothing the written a*b* is the model's.
  assert summary.flicker_output == pytest.approx(summary.flicker_model,
                                                 rel=1e-3)
  info = video_io.probe(output)
  assert info.audio_streams == 0 and info.frame_rate == 25
  assert len(list(video_io.read_frames(info))) == NUM_FRAMES


@pytest.mark.parametrize("arguments, message", [
    ({"output_path": "out.avi"}, "extension must be one of"),
    ({"batch_size": 0}, "batch_size=0"),
    ({"crf": 52}, "crf=52")])
def test_colorize_video_refuses_bad_arguments(clips, arguments, message):
  with pytest.raises(ValueError, match=message):
    video.colorize_video("no-model", clips["silent"], **arguments)


def test_colorize_video_refuses_to_overwrite_its_input(clips):
  with pytest.raises(ValueError, match="would overwrite the input"):
    video.colorize_video("no-model", clips["silent"],
                         output_path=clips["silent"])


def test_binary_refuses_a_corrupt_file_in_one_line(model_dir, tmp_path):
  corrupt = tmp_path / "corrupt.mp4"
  corrupt.write_bytes(np.random.RandomState(0).bytes(5000))
  output = tmp_path / "out.mp4"
  result = binaries.run_main("pipelines.colorize_video", f"--model={model_dir}",
                             f"--input={corrupt}", f"--output={output}")
  assert result.returncode == 1
  last_line = result.stderr.strip().splitlines()[-1]
  assert last_line.startswith("colorizer-colorize-video: error: ")
  assert str(corrupt) in last_line and "Traceback" not in result.stderr
  assert not output.exists()
