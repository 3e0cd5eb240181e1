"""nncompress: compress neural networks with variational and importance-based methods."""

__version__ = "0.1.0"
