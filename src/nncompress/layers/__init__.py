"""Layers that replace nn.Linear / nn.Conv2d inside an architecture (sparse variational dropout)
and the hashing map."""
