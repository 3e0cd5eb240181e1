"""From a trained paper-001 module to the csr_huffman file's contents (Han et al. 2015):
(i) collapse the weights to the codebook, (ii) drop unused codebook entries and remove empty
units with the matching inputs of the next layer; CSR and Huffman coding are the codec's."""
from __future__ import annotations

import torch

from nncompress.coding.csr_huffman import CompressedNet
from nncompress.models.spec import ArchSpec
from nncompress.pruning.structured import remove_empty_units


def build_compressed(spec: ArchSpec, indices: list, biases: list, codebook: torch.Tensor,
                     index_bits: int, state: dict = None) -> CompressedNet:
    """Drop unused codebook entries (keeping 0 first), remove empty units, return CompressedNet.
    A `_target_` architecture keeps its units (removing them needs a chain of layers) and takes
    every other entry of its state dict from `state` (the trained network's)."""
    used = torch.unique(torch.cat([i.flatten() for i in indices] + [torch.zeros(1, dtype=torch.int64)]))
    remap = torch.full((len(codebook),), -1, dtype=torch.int64)
    remap[used] = torch.arange(len(used))
    indices = [remap[i] for i in indices]
    codebook = codebook[used].float()
    if codebook[0] != 0:
        raise ValueError("codebook entry 0 must be the zero value")
    if spec.target is not None:
        comp = CompressedNet(spec, codebook, indices, [None] * len(indices), index_bits)
        comp.rest = {k: state[k].detach().cpu() for k in comp.rest_keys()}
        return comp
    indices, biases, _ = remove_empty_units(indices, [b.detach().float() for b in biases])
    widths = tuple(int(i.shape[0]) for i in indices[:-1])
    narrow = ArchSpec(spec.name, {}, spec.in_channels, spec.num_classes, spec.image_size, widths=widths)
    return CompressedNet(narrow, codebook, indices, biases, index_bits)
