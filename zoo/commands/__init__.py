"""One module per command of the ``zoo`` command line."""
