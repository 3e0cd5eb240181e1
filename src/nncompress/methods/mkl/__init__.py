"""Paper 000 (key `mkl`): MIRACLE with the Mean-Var and Mean-KL posteriors, coded block by block
into model.mrc with fine-tuning in between.

    posteriors.py  Mean-Var and Mean-KL parameterisations (eq. 2-6), lambertw.py (appendix B)
    module.py      the variational training objective (MiracleModule)
    encoder.py     the resumable MRC encoding loop and its settings (the coding=mrc schema)
    family.py      build / export / after_decode for tasks.train; callbacks.py: W&B plots
"""
from nncompress.methods.mkl import family  # noqa: F401  (registers the family)
