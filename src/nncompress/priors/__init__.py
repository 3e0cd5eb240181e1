"""Priors over weights: the MIRACLE coding distribution, the log-uniform (sparse VD) and the
Gaussian mixture (soft weight-sharing)."""
