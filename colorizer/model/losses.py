"""pix2pix losses: logits in, a dict of named parts out.

Every loss is first reduced to one value per example (mean over PatchGAN
patches or pixels), then averaged with `tf.nn.compute_average_loss` over the
*global* batch. Under a tf.distribute strategy each replica thus returns its
share, and the sum over replicas (what the optimizers apply) is the mean over
the global batch, whatever the number of replicas. A plain `reduce_mean`
would make every replica's gradient a full mean and multiply the step by the
number of replicas.
"""

from typing import Dict, Optional

import tensorflow as tf

GAN_LOSSES = ("vanilla", "lsgan")
RECON_LOSSES = ("l1", "l2")


def _per_example_mean(values: tf.Tensor) -> tf.Tensor:
  """[B, ...] -> [B]: the mean over everything but the batch axis."""
  return tf.reduce_mean(tf.reshape(values, [tf.shape(values)[0], -1]), axis=1)


def average(per_example: tf.Tensor, global_batch_size: int) -> tf.Tensor:
  """[B] per-example values -> this replica's share of the global mean."""
  return tf.nn.compute_average_loss(per_example,
                                    global_batch_size=global_batch_size)


def _check_gan_loss(gan_loss: str) -> None:
  if gan_loss not in GAN_LOSSES:
    raise ValueError(f"Unknown gan_loss {gan_loss!r}; expected one of "
                     f"{GAN_LOSSES}.")


def adversarial_per_example(logits: tf.Tensor, target: float,
                            gan_loss: str) -> tf.Tensor:
  """Per-example adversarial loss of PatchGAN logits against a constant label.

  vanilla (Goodfellow et al. 2014, as in pix2pix):
    mean over patches of BCE(sigmoid(logit), target)
      = max(x, 0) - x * t + log(1 + exp(-|x|)).
  lsgan (Mao et al. 2017): mean over patches of (logit - target)^2.

  Args:
    logits: float [B, h, w, 1] PatchGAN logits.
    target: the label every patch should get (1 real, 0 fake, or 1 - eps).
    gan_loss: "vanilla" or "lsgan".

  Returns:
    float32 [B].
  """
  _check_gan_loss(gan_loss)
  logits = tf.cast(logits, tf.float32)
  labels = tf.fill(tf.shape(logits), tf.constant(target, tf.float32))
  if gan_loss == "vanilla":
    per_patch = tf.nn.sigmoid_cross_entropy_with_logits(labels=labels,
                                                        logits=logits)
  else:
    per_patch = tf.square(logits - labels)
  return _per_example_mean(per_patch)


def discriminator_loss(disc_real_logits: tf.Tensor,
                       disc_fake_logits: tf.Tensor,
                       global_batch_size: int,
                       gan_loss: str = "vanilla",
                       label_smoothing: float = 0.0) -> Dict[str, tf.Tensor]:
  """The discriminator objective, halved as in pix2pix (Isola et al. 2017).

  L_D = 0.5 * (loss(D(x, y), 1 - label_smoothing) + loss(D(x, G(x)), 0))

  One-sided label smoothing (Salimans et al. 2016) softens only the real
  target; fake targets stay 0.

  Args:
    disc_real_logits: [B, h, w, 1] logits on real (L*, a*b*) pairs.
    disc_fake_logits: [B, h, w, 1] logits on generated pairs.
    global_batch_size: the batch size summed over all replicas.
    gan_loss: "vanilla" or "lsgan".
    label_smoothing: in [0, 1).

  Returns:
    {"disc_total", "disc_real", "disc_fake"}: scalars, this replica's share.
  """
  if not 0.0 <= label_smoothing < 1.0:
    raise ValueError(f"label_smoothing must be in [0, 1), got "
                     f"{label_smoothing}.")
  real = average(adversarial_per_example(
      disc_real_logits, 1.0 - label_smoothing, gan_loss), global_batch_size)
  fake = average(adversarial_per_example(disc_fake_logits, 0.0, gan_loss),
                  global_batch_size)
  return {"disc_total": 0.5 * (real + fake), "disc_real": real,
          "disc_fake": fake}


def reconstruction_per_example(ab_fake: tf.Tensor, ab_real: tf.Tensor,
                               recon_loss: str = "l1") -> tf.Tensor:
  """Per-example mean |ab_fake - ab_real| (l1) or squared error (l2).

  Channel-agnostic: in sketch mode the same mean runs over all three
  normalized L*a*b* channels.

  Args:
    ab_fake: [B, H, W, 2] normalized a*b* from the generator ([B, H, W, 3]
      L*a*b* in sketch mode).
    ab_real: [B, H, W, 2] normalized ground truth (likewise).
    recon_loss: "l1" or "l2".

  Returns:
    float32 [B].
  """
  if recon_loss not in RECON_LOSSES:
    raise ValueError(f"Unknown recon_loss {recon_loss!r}; expected one of "
                     f"{RECON_LOSSES}.")
  difference = tf.cast(ab_fake, tf.float32) - tf.cast(ab_real, tf.float32)
  if recon_loss == "l1":
    return _per_example_mean(tf.abs(difference))
  return _per_example_mean(tf.square(difference))


def generator_loss(disc_fake_logits: tf.Tensor,
                   ab_fake: tf.Tensor,
                   ab_real: tf.Tensor,
                   global_batch_size: int,
                   gan_loss: str = "vanilla",
                   recon_loss: str = "l1",
                   recon_weight: float = 100.0,
                   gan_weight: float = 1.0,
                   recon_per_example: Optional[tf.Tensor] = None
                   ) -> Dict[str, tf.Tensor]:
  """The generator objective of pix2pix.

  L_G = gan_weight * loss(D(x, G(x)), 1) + recon_weight * recon(G(x), y)

  The GAN term uses the non-saturating form (target 1 on fakes), as pix2pix.
  Pass disc_fake_logits=None for reconstruction-only pretraining.

  Args:
    disc_fake_logits: [B, h, w, 1] logits on generated pairs, or None.
    ab_fake: [B, H, W, 2] normalized a*b* from the generator.
    ab_real: [B, H, W, 2] normalized ground truth.
    global_batch_size: the batch size summed over all replicas.
    gan_loss: "vanilla" or "lsgan".
    recon_loss: "l1" or "l2".
    recon_weight: lambda (pix2pix: 100).
    gan_weight: weight of the adversarial term.
    recon_per_example: [B] reconstruction loss computed elsewhere (the
      class head's cross-entropy); recon_loss is then not used.

  Returns:
    {"gen_total", "gen_gan", "gen_recon"}: scalars, this replica's share.
    gen_recon is unweighted.
  """
  if recon_per_example is None:
    recon_per_example = reconstruction_per_example(ab_fake, ab_real,
                                                   recon_loss)
  recon = average(recon_per_example, global_batch_size)
  if disc_fake_logits is None:
    gan = tf.zeros([], tf.float32)
  else:
    gan = average(adversarial_per_example(disc_fake_logits, 1.0, gan_loss),
                   global_batch_size)
  return {"gen_total": gan_weight * gan + recon_weight * recon,
          "gen_gan": gan, "gen_recon": recon}


def mean_discriminator_output(logits: tf.Tensor, global_batch_size: int,
                              gan_loss: str = "vanilla") -> tf.Tensor:
  """This replica's share of the mean D output: sigmoid(logit) for vanilla,
  the raw score for lsgan. Summed over replicas it is the global mean."""
  _check_gan_loss(gan_loss)
  logits = tf.cast(logits, tf.float32)
  scores = tf.sigmoid(logits) if gan_loss == "vanilla" else logits
  return average(_per_example_mean(scores), global_batch_size)


# Hasler & Suesstrunk's colorfulness of an image whose colors fill the
# palette ("extremely colorful" is 109); the loss is 1 - CF / this.
COLORFULNESS_SCALE = 100.0
# Keeps the square roots' gradients finite on a gray image (variance 0).
_COLORFULNESS_EPSILON = 1e-6


def colorfulness_per_example(rgb: tf.Tensor) -> tf.Tensor:
  """Differentiable colorfulness of Hasler & Suesstrunk (2003), per image.

  With rg = R - G and yb = (R + G) / 2 - B over one image's pixels on a
  0..255 scale, CF = sqrt(var_rg + var_yb) + 0.3 sqrt(mean_rg^2 + mean_yb^2),
  as colorizer.evaluation.metrics.colorfulness computes it in NumPy.

  Args:
    rgb: float sRGB [B, H, W, 3] in [0, 1].

  Returns:
    float32 [B].
  """
  rgb = tf.cast(rgb, tf.float32) * 255.0
  red, green, blue = tf.unstack(rgb, axis=-1)  # [B, H, W] each
  rg = red - green
  yb = 0.5 * (red + green) - blue
  mean_rg, var_rg = tf.nn.moments(rg, axes=[1, 2])  # [B]
  mean_yb, var_yb = tf.nn.moments(yb, axes=[1, 2])
  return (tf.sqrt(var_rg + var_yb + _COLORFULNESS_EPSILON) +
          0.3 * tf.sqrt(tf.square(mean_rg) + tf.square(mean_yb) +
                        _COLORFULNESS_EPSILON))


def colorfulness_loss_per_example(rgb_fake: tf.Tensor) -> tf.Tensor:
  """DDColor's colorfulness loss, 1 - CF / 100 per image [B].

  Kang et al. (2023), "DDColor: Towards Photo-Realistic Image Colorization
  via Dual Decoders", eq. 6: a reward for colorful predictions that offsets
  the pull of a pixel loss towards dull, average colors. It is minimal for
  a maximally colorful image, so its weight must stay small beside the
  reconstruction loss, which keeps the colors right (--colorfulness_weight).

  Args:
    rgb_fake: float sRGB [B, H, W, 3] in [0, 1] of the colorized images.

  Returns:
    float32 [B].
  """
  return 1.0 - colorfulness_per_example(rgb_fake) / COLORFULNESS_SCALE
