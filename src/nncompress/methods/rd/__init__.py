"""Paper 003 (key `rd`): rate-distortion objectives for post-training pruning and quantisation,
written as a codebook file (model.cbk).

    theory.py      weighted water-filling R(D), Theorem 3's compressor (section 4, appendix A)
    figure6.py     Figure 6 as data: the curve, its kinks, a Monte Carlo check of the compressor
    accounting.py  the paper's compression ratio r and the public code's entropy version
    settings.py    method=rd / importance=... settings, checked at start-up
    estimate.py    the importance of the baseline's weights, cached beside the baseline
    compress.py    prune or quantise by the importance; codebooks for the file; accounting keys
    metrics.py     test accuracy, cross-entropy and top-5
    family.py      build / describe / export / after_decode for tasks.train
"""
from nncompress.methods.rd import family  # noqa: F401  (registers the family)
