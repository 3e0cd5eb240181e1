"""Paper 002 (key `pwfn`): probabilistic weight fixing networks. From a trained network, every
weight gets a Gaussian posterior (Bayes-by-backprop), and in T rounds a growing fraction of the
weights is fixed to centres made of a few powers of two, chosen by how many standard deviations
each weight is from a centre; the result is written as a codebook file (model.cbk).

    centres.py, distance.py, sigma_init.py   the centre sets, D_prob, sigma initialisation (eq. 8)
    algorithm1.py, public.py, fixing.py      a fixing round: Algorithm 1 / the public code's variant
    schedule.py, metrics.py                  p_t and the sigma push; unique values and entropy
    settings.py, optim.py, module.py         the run's settings, its SGD, the Lightning module
    rounds.py, snapshots.py                  train -> test -> fix per round; Figure 1's data
    export.py, family.py                     the codebook file; build / export / after_decode
"""
from nncompress.methods.pwfn import family  # noqa: F401  (registers the family)
