"""colorizer: train a pix2pix colorizer (L* in, a*b* out) and serve it.

Subpackages by role, each importing only those below it:

  data        sources, decoding, the tf.data pipeline
  model       networks, heads, losses
  serving     SavedModel export, colorize, video
  evaluation  metrics, statistics, reports, colorizer-evaluate
  training    state, step, loop, distribution
  tuning, web sweeps; the Flask page

At the top: `config` (the typed config and presets), `color` (L*a*b*),
`progress`, `hardware` (backend choice), which import no subpackage, and
`flags_lib` (flags from the config, validation), which binaries use.
The binaries live in `pipelines/`.
"""
