"""The networks and their losses.

The pix2pix U-Net generator and PatchGAN discriminator (`networks`), U-Nets
on pretrained Keras encoders (`encoder_unet`), the a*b* classes head and its
decode (`ab_classes`), the auxiliary label head (`label_head`) and the
losses (`losses`).

May import: the top-level `config`, `color`, `progress`, `hardware`.
Does not import `colorizer.data` or anything above.
"""
