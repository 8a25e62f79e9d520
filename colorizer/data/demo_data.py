"""Built-in demo dataset: procedurally generated outdoor scenes.

Every scene is rendered in-process from `(seed, index)` with stateless
TensorFlow random ops: no files, no download, and it runs inside `tf.data`
`map` in parallel while staying deterministic.

Colour is deliberately predictable from structure and texture: smooth
gradients at the top are sky (blue, or purple/pink/orange at sunset), soft
blobs are clouds, layered ridges are hills (hazier and bluer with distance),
vertically streaked texture is grass, horizontally rippled regions are water,
fine-grained bands are sand and blobs on thin trunks are trees. A colorizer
that only sees CIE L* can therefore learn plausible a*b* within minutes.
"""

import collections

import tensorflow as tf

DEMO_TRAIN_SIZE = 20000
DEMO_VAL_SIZE = 500
# Validation indices start far beyond any training index so the splits never
# share a scene, whatever the training set size.
DEMO_VAL_START_INDEX = 10_000_000

_MAX_TREES = 5

# Pixel-centre coordinates in [0, 1]: rows [H, 1], cols [1, W]. Relative units
# keep a scene's layout the same at every image size.
_Frame = collections.namedtuple("_Frame", ["rows", "cols", "pixel", "size"])


def _component_seed(seed, stream):
  """Derives an independent stateless seed for one scene component.

  Folding in a per-component stream id keeps components decorrelated, and
  adding a component later does not change the others' randomness.
  """
  return tf.random.experimental.stateless_fold_in(seed, stream)


def _smooth_noise(seed, grid_rows, grid_cols, image_size, channels=1):
  """Value noise: a coarse random grid upsampled bicubically.

  The grid shape sets the feature scale; unequal rows/cols give streaks
  (vertical for grass blades, horizontal for water ripples).

  Returns:
    float32 tensor [image_size, image_size, channels], roughly in [0, 1].
  """
  grid = tf.random.stateless_uniform([grid_rows, grid_cols, channels], seed)
  return tf.image.resize(grid, [image_size, image_size], method="bicubic")


def _fractal_noise(seed, base_cells, image_size, octaves=3, channels=1):
  """Sums octaves of square value noise for natural, cloud-like detail.

  Octaves finer than about two pixels are skipped: they would only alias
  (and cost time) at small sizes, while large images keep their detail.
  """
  total, weight_sum = 0.0, 0.0
  for octave in range(octaves):
    cells = base_cells * 2**octave
    if octave > 0 and cells > image_size // 2:
      break
    octave_seed = _component_seed(seed, octave)
    noise = _smooth_noise(octave_seed, cells, cells, image_size, channels)
    total += 0.5**octave * noise
    weight_sum += 0.5**octave
  return total / weight_sum


def _ridge_line(seed, cells, image_size):
  """1-D smooth noise along the columns, shaped [1, image_size], in ~[-1, 1]."""
  grid = tf.random.stateless_uniform([1, cells, 1], seed, -1.0, 1.0)
  return tf.image.resize(grid, [1, image_size], method="bicubic")[:, :, 0]


def _smoothstep(edge0, edge1, value):
  """Hermite step; used for anti-aliased masks and soft transitions."""
  t = tf.clip_by_value((value - edge0) / (edge1 - edge0), 0.0, 1.0)
  return t * t * (3.0 - 2.0 * t)


def _lerp(start, end, amount):
  """Linear interpolation, broadcasting colours against masks."""
  return start + (end - start) * amount


def _rgb(red, green, blue):
  """A float32 RGB colour constant, components in [0, 1]."""
  return tf.constant([red, green, blue], tf.float32)


def _paint(canvas_rgb, layer_rgb, mask):
  """Alpha-composites `layer_rgb` over the canvas with a [H, W] mask."""
  return _lerp(canvas_rgb, layer_rgb, mask[..., None])


def _draw_if(condition, draw, canvas_rgb):
  """Runs `draw(canvas_rgb)` only when `condition` holds.

  `tf.cond` skips the untaken branch's work entirely; most optional elements
  are absent from most scenes, so this saves a lot of compute.
  """
  return tf.cond(condition, lambda: draw(canvas_rgb), lambda: canvas_rgb)


def _sample_scene(scene_seed):
  """Draws the per-scene layout and palette as a dict of named scalars."""
  u = tf.unstack(
      tf.random.stateless_uniform([18], _component_seed(scene_seed, 0)))
  is_sunset = tf.cast(u[1] < 0.22, tf.float32)
  horizon_row = 0.35 + 0.27 * u[0]
  has_water, has_beach = u[2] < 0.45, u[3] < 0.6
  shore_row = horizon_row + (1.0 - horizon_row) * (0.25 + 0.35 * u[4])
  beach_width = (0.06 + 0.1 * u[5]) * tf.cast(has_beach, tf.float32)
  # Land: the meadow starts below the near hills; water: after the shore.
  meadow_row = horizon_row + (1.0 - horizon_row) * (0.2 + 0.4 * u[6])
  grass_row = tf.where(has_water, shore_row + beach_width, meadow_row)
  # Everything below the sky gets warmer, dimmer light at sunset.
  light = _lerp(tf.ones([3]), _rgb(0.95, 0.75, 0.62), is_sunset)
  return {
      "horizon_row": horizon_row, "is_sunset": is_sunset,
      "sky_jitter": u[7] - 0.5,
      "has_water": has_water, "has_beach": has_beach,
      "shore_row": shore_row, "grass_row": grass_row,
      "has_sun": u[8] < 0.55, "sun_col": 0.1 + 0.8 * u[9],
      "sun_radius": 0.035 + 0.035 * u[10],
      "sun_row": _lerp(0.08, horizon_row - 0.08, 0.5 * u[11] + 0.5 * is_sunset),
      "sun_rgb": _lerp(_rgb(1.0, 0.92, 0.45), _rgb(1.0, 0.55, 0.15), is_sunset),
      "has_clouds": u[12] < 0.75,
      "cloud_threshold": 0.72 - 0.3 * u[13],  # Lower -> cloudier.
      "has_flowers": u[14] < 0.4,
      "flower_rgb": _lerp(_rgb(0.9, 0.12, 0.1), _rgb(1.0, 0.55, 0.05), u[15]),
      "has_trees": u[16] < 0.65,
      "grass_rgb": _lerp(_rgb(0.42, 0.62, 0.12), _rgb(0.16, 0.5, 0.1),
                         u[17]) * light,
      "sand_rgb": _rgb(0.88, 0.74, 0.50) * light,
      "far_hill_rgb": _rgb(0.22, 0.42, 0.45) * light,
      "olive_rgb": _rgb(0.45, 0.50, 0.16) * light,
      "green_rgb": _rgb(0.18, 0.48, 0.14) * light,
  }


def _sky_rgb(rows, scene):
  """Vertical sky gradient: deep colour at the zenith, pale at the horizon.

  Takes `rows` explicitly so water can sample the mirrored sky.
  """
  jitter = scene["sky_jitter"]
  day_top = _rgb(0.10, 0.30, 0.78) + jitter * _rgb(0.0, 0.08, 0.1)
  day_horizon = _rgb(0.62, 0.80, 0.96)
  sunset_top = _rgb(0.22, 0.22, 0.55)
  sunset_middle = _rgb(0.92, 0.45, 0.55) + jitter * _rgb(0.05, 0.1, -0.1)
  sunset_horizon = _rgb(1.0, 0.62, 0.25)
  height = tf.clip_by_value(rows / scene["horizon_row"], 0.0, 1.0)[..., None]
  day = _lerp(day_top, day_horizon, height**0.8)
  # Two-segment gradient gives the purple -> pink -> orange sunset look.
  sunset = tf.where(
      height < 0.55, _lerp(sunset_top, sunset_middle, height / 0.55),
      _lerp(sunset_middle, sunset_horizon, (height - 0.55) / 0.45))
  return _lerp(day, sunset, scene["is_sunset"])


def _draw_sun(canvas_rgb, frame, scene):
  """Adds a yellow (day) or orange (sunset) disc with a warm glow."""
  radius, sun_rgb = scene["sun_radius"], scene["sun_rgb"]
  distance = tf.sqrt((frame.rows - scene["sun_row"])**2 +
                     (frame.cols - scene["sun_col"])**2)
  glow = 0.55 * tf.exp(-(distance / (radius * 3.5))**2)
  canvas_rgb = canvas_rgb + glow[..., None] * (sun_rgb - 0.5 * canvas_rgb)
  disc = _smoothstep(radius + frame.pixel, radius - frame.pixel, distance)
  return _paint(canvas_rgb, sun_rgb, disc)


def _draw_clouds(canvas_rgb, frame, scene, seed):
  """Soft white/grey blobs of thresholded fractal noise, fading at horizon."""
  noise = _fractal_noise(seed, 3, frame.size, octaves=6, channels=2)
  threshold, horizon_row = scene["cloud_threshold"], scene["horizon_row"]
  density = _smoothstep(threshold, threshold + 0.18, noise[..., 0])
  density *= _smoothstep(horizon_row, horizon_row * 0.6, frame.rows)
  # Undersides are greyer; sunset clouds pick up a pink tint.
  shade = _smoothstep(0.3, 0.7, noise[..., 1])[..., None]
  bright = _lerp(_rgb(0.98, 0.98, 1.0), _rgb(1.0, 0.78, 0.72),
                 scene["is_sunset"])
  return _paint(canvas_rgb, _lerp(bright * 0.72, bright, shade),
                0.92 * density)


def _draw_hills(canvas_rgb, frame, scene, seed, near):
  """Draws up to two ridged hill layers, back to front.

  Far layers sit above the horizon and are hazed towards the sky colour
  (atmospheric perspective), so they read blue-grey; near layers straddle
  the horizon with olive/green tonal variation so they read as vegetation.
  """
  horizon_row = scene["horizon_row"]
  haze_rgb = _sky_rgb(horizon_row * 0.9, scene)
  for layer in range(2):
    draws = tf.random.stateless_uniform([4], _component_seed(seed, layer))
    if near:
      base_row = horizon_row + 0.02 * layer - 0.07 * draws[1]
    else:
      base_row = horizon_row - 0.04 - 0.12 * draws[1] + 0.05 * layer

    def draw_layer(canvas_rgb, layer=layer, draws=draws, base_row=base_row):
      ridge = base_row + (0.03 + 0.06 * draws[2]) * _ridge_line(
          _component_seed(seed, 10 + layer), 3 + 2 * layer, frame.size)
      mask = _smoothstep(ridge - frame.pixel, ridge + frame.pixel, frame.rows)
      if near:
        tone = _fractal_noise(_component_seed(seed, 20 + layer), 4,
                              frame.size, octaves=3)
        rgb = _lerp(scene["olive_rgb"], scene["green_rgb"],
                    0.5 * draws[3] + 0.5 * layer) * (0.8 + 0.4 * tone)
      else:
        rgb = _lerp(haze_rgb, scene["far_hill_rgb"], 0.45 + 0.3 * layer)
        # A faint, lighter rim of haze just below the ridge.
        rim = _smoothstep(ridge + 0.1, ridge, frame.rows)
        rgb = rgb * (0.92 + 0.12 * rim)[..., None]
      return _paint(canvas_rgb, rgb, mask)

    # The first near layer is always drawn: it is the land between the
    # horizon and the meadow, which would otherwise show bare sky.
    presence = {(True, 0): 1.0, (False, 0): 0.8}.get((near, layer), 0.5)
    canvas_rgb = _draw_if(draws[0] < presence, draw_layer, canvas_rgb)
  return canvas_rgb


def _draw_water(canvas_rgb, frame, scene, seed):
  """Water reflects the mirrored sky, tinted teal, with horizontal ripples."""
  horizon_row, shore_row = scene["horizon_row"], scene["shore_row"]
  rows, cols = frame.rows, frame.cols
  reflected = _sky_rgb(horizon_row - (rows - horizon_row) * 2.0, scene)
  ripples = _smooth_noise(seed, max(frame.size // 2, 4), 6, frame.size)
  ripples = ripples[..., 0]
  depth = _smoothstep(horizon_row, shore_row + 0.1, rows)[..., None]
  water_rgb = _lerp(0.6 * reflected + 0.4 * _rgb(0.08, 0.35, 0.55),
                    _rgb(0.05, 0.28, 0.45), 0.5 * depth)
  water_rgb *= (0.82 + 0.36 * ripples)[..., None]
  # Broken vertical glitter under the sun, only where ripples crest.
  glitter = (tf.exp(-((cols - scene["sun_col"]) / 0.05)**2) *
             _smoothstep(0.55, 0.75, ripples) *
             tf.cast(scene["has_sun"], tf.float32))
  water_rgb = _paint(water_rgb, scene["sun_rgb"] * 0.9 + 0.1, 0.8 * glitter)
  mask = tf.cast((rows >= horizon_row) & (rows < shore_row), tf.float32)
  return _paint(canvas_rgb, water_rgb, mask)


def _draw_ground(canvas_rgb, frame, top_row, seed, rgb, is_grass):
  """Fills from a wavy `top_row` edge downwards with a textured colour.

  Grass gets strong vertical streaks (blades); sand a subtle isotropic grain.
  """
  size = frame.size
  edge = top_row + 0.012 * _ridge_line(_component_seed(seed, 0), 8, size)
  fine_cells = max(size // 2, 4)
  grid_rows = max(fine_cells // 3, 2) if is_grass else fine_cells
  texture = _smooth_noise(_component_seed(seed, 1), grid_rows, fine_cells,
                          size)[..., 0]
  tone = _fractal_noise(_component_seed(seed, 2), 3, size, octaves=2)[..., 0]
  amount = 0.5 if is_grass else 0.22
  brightness = (0.85 + 0.3 * tone) * (1.0 - 0.6 * amount + amount * texture)
  mask = _smoothstep(edge - frame.pixel, edge + frame.pixel, frame.rows)
  return _paint(canvas_rgb, rgb * brightness[..., None], mask)


def _draw_flowers(canvas_rgb, frame, scene, seed):
  """Red/orange flowers: sparse dots of isotropic noise in the near meadow."""
  cells = max(frame.size // 3, 2)
  dots = _smooth_noise(seed, cells, cells, frame.size)[..., 0]
  grass_row = scene["grass_row"]
  mask = (_smoothstep(0.8, 0.9, dots) *
          _smoothstep(grass_row + 0.05, grass_row + 0.15, frame.rows))
  return _paint(canvas_rgb, scene["flower_rgb"], mask)


def _draw_trees(canvas_rgb, frame, scene, seed):
  """Brown trunks topped with ragged, shaded green canopies.

  Masks for all trees are computed at once as a [tree, H, W] stack. Trees
  are sorted by base row so nearer (lower) ones overlap farther ones, and
  scaled with distance below the horizon for a sense of perspective.
  """
  rows, cols, pixel = frame.rows[None], frame.cols[None], frame.pixel
  horizon_row = scene["horizon_row"]
  leaf_noise = _fractal_noise(_component_seed(seed, 0), 8, frame.size,
                              octaves=5)[..., 0]
  draws = tf.random.stateless_uniform([_MAX_TREES, 5],
                                      _component_seed(seed, 1))
  present, size_draw, width_draw = draws[:, 1] < 0.6, draws[:, 3], draws[:, 4]

  def per_tree(values):  # [T] -> [T, 1, 1] so it broadcasts over pixels.
    return values[:, None, None]

  lowest_ground = tf.minimum(scene["grass_row"], 0.9) + 0.04
  base_row = tf.sort(_lerp(lowest_ground, 1.02, draws[:, 0]))
  scale = 0.45 + 0.9 * (base_row - horizon_row) / (1.0 - horizon_row)
  height = (0.22 + 0.18 * size_draw) * scale
  trunk_half_width = per_tree(tf.maximum(0.012 * scale, 0.7 * pixel))
  trunk_top = per_tree(base_row - 0.45 * height)
  col_offset = cols - per_tree(draws[:, 2])
  trunk = (_smoothstep(trunk_half_width + pixel, trunk_half_width - pixel,
                       tf.abs(col_offset)) *
           tf.cast((rows > trunk_top) & (rows < per_tree(base_row)),
                   tf.float32))

  radius_x = per_tree((0.26 + 0.12 * width_draw) * height)
  radius_y = per_tree(0.38 * height)
  offset_x = col_offset / radius_x
  offset_y = (rows - (trunk_top - 0.6 * radius_y)) / radius_y
  distance = tf.sqrt(offset_x**2 + offset_y**2)
  ragged_radius = 1.0 + 0.45 * (leaf_noise - 0.5)
  softness = 1.5 * pixel / radius_y  # About one pixel, whatever the size.
  canopy = _smoothstep(ragged_radius + softness, ragged_radius - softness,
                       distance)
  # Lit from the upper left, plus leafy speckle from the same noise.
  light = 0.75 - 0.22 * offset_y - 0.12 * offset_x + 0.4 * (leaf_noise - 0.5)
  canopy_rgb = _lerp(_rgb(0.10, 0.34, 0.08), _rgb(0.28, 0.52, 0.10),
                     size_draw[:, None])
  canopy_rgb = canopy_rgb[:, None, None, :] * light[..., None]

  # Compositing as a short loop is far cheaper on CPU than tf.math.cumprod.
  masks = (tf.stack([trunk, canopy], axis=1) *
           tf.cast(present, tf.float32)[:, None, None, None])
  for tree in range(_MAX_TREES):
    canvas_rgb = _paint(canvas_rgb, _rgb(0.42, 0.25, 0.12), masks[tree, 0])
    canvas_rgb = _paint(canvas_rgb, canopy_rgb[tree], masks[tree, 1])
  return canvas_rgb


def render_scene(index, image_size, seed=0):
  """Renders one deterministic procedural landscape.

  Args:
    index: Scalar int (Python or tensor) identifying the scene.
    image_size: Python int, output height and width in pixels (16..512).
    seed: Int dataset seed; different seeds give different scene sets.

  Returns:
    uint8 tensor [image_size, image_size, 3] in sRGB.
  """
  scene_seed = tf.stack([tf.cast(seed, tf.int64), tf.cast(index, tf.int64)])
  scene = _sample_scene(scene_seed)
  positions = (tf.range(image_size, dtype=tf.float32) + 0.5) / image_size
  frame = _Frame(positions[:, None], positions[None, :], 1.0 / image_size,
                 image_size)

  def part_seed(stream):
    return _component_seed(scene_seed, stream)

  def draw_lake(canvas):
    canvas = _draw_water(canvas, frame, scene, part_seed(3))
    draw_beach = lambda canvas: _draw_ground(
        canvas, frame, scene["shore_row"], part_seed(4), scene["sand_rgb"],
        is_grass=False)
    return _draw_if(scene["has_beach"], draw_beach, canvas)

  # Painter's algorithm, back to front.
  canvas = tf.broadcast_to(_sky_rgb(frame.rows, scene),
                           [image_size, image_size, 3])
  canvas = _draw_if(scene["has_sun"],
                    lambda canvas: _draw_sun(canvas, frame, scene), canvas)
  canvas = _draw_if(
      scene["has_clouds"],
      lambda canvas: _draw_clouds(canvas, frame, scene, part_seed(1)), canvas)
  canvas = _draw_hills(canvas, frame, scene, part_seed(2), near=False)
  # Water scenes keep open water up to the horizon; land gets near hills.
  canvas = tf.cond(
      scene["has_water"], lambda: draw_lake(canvas),
      lambda: _draw_hills(canvas, frame, scene, part_seed(5), near=True))
  canvas = _draw_ground(canvas, frame, scene["grass_row"], part_seed(6),
                        scene["grass_rgb"], is_grass=True)
  canvas = _draw_if(
      scene["has_flowers"],
      lambda canvas: _draw_flowers(canvas, frame, scene, part_seed(7)), canvas)
  canvas = _draw_if(
      scene["has_trees"],
      lambda canvas: _draw_trees(canvas, frame, scene, part_seed(8)), canvas)
  return tf.cast(tf.round(tf.clip_by_value(canvas, 0.0, 1.0) * 255.0),
                 tf.uint8)


def make_dataset(num_images, image_size, seed=0, start_index=0):
  """Builds a deterministic dataset of demo scenes.

  Args:
    num_images: Number of scenes to yield.
    image_size: Output height and width in pixels.
    seed: Dataset seed passed to `render_scene`.
    start_index: First scene index; use disjoint ranges for splits.

  Returns:
    `tf.data.Dataset` of uint8 [image_size, image_size, 3] images in index
    order (parallel map with deterministic ordering).
  """
  indices = tf.data.Dataset.range(start_index, start_index + num_images)
  return indices.map(lambda index: render_scene(index, image_size, seed),
                     num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def train_and_val(image_size, seed=0):
  """Returns `(train_ds, val_ds)` demo datasets with disjoint scene indices.

  Args:
    image_size: Output height and width in pixels.
    seed: Dataset seed shared by both splits.
  """
  train_ds = make_dataset(DEMO_TRAIN_SIZE, image_size, seed, start_index=0)
  val_ds = make_dataset(DEMO_VAL_SIZE, image_size, seed,
                        start_index=DEMO_VAL_START_INDEX)
  return train_ds, val_ds
