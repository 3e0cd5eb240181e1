"""Compressed files: the container, the architecture header, and the codecs by name.

Importing the package registers every codec (`codec.CODECS`).
"""
from nncompress.coding import codebook, csr_huffman, mrc, orc, pfr  # noqa: F401  (each registers its codec)
