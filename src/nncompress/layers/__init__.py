"""Layers that replace nn.Linear / nn.Conv2d inside an architecture (sparse variational dropout,
Bayes-by-backprop), the hashing map, and a convolution by patches for inputs of few channels."""
