"""zoo_style: neural style transfer (Gatys et al. 2016) as a zoo plugin.

What it registers (see ``zoo_style.plugin``):

- model ``vgg19_features``: VGG-19's convolutional part, cut after the deepest requested layer,
  returning the requested activations by name (``conv1_1`` ... ``conv5_4``, ``relu*``, ``pool*``);
- dataset ``images``: a content and a style picture (``zoo_style.images.StylePair``), by default
  scikit-learn's embedded sample photos (china.jpg, flower.jpg);
- task ``style_transfer``: optimises an image so its VGG features match the content picture and
  its Gram matrices match the style picture; writes ``result.png``, snapshots and a loss curve.

The library functions work without zoo's runner: ``zoo_style.transfer.stylize`` takes two image
tensors and returns the stylised image. Importing this package is cheap (no torch import).
"""
