"""Layers that replace nn.Linear / nn.Conv2d inside an architecture (sparse variational dropout,
Bayes-by-backprop) and the hashing map."""
