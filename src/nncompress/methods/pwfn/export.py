"""The fixed PWFN network as a codebook file (codec `codebook`, model.cbk; coding/codebook.py) and
its compressibility figures (paper 002).

The plain architecture (spec.build()) receives the effective means of the Bayes-by-backprop layers
(after the last round: every weight and bias at its centre) and the rest of the trained state
(BatchNorm parameters and statistics, stored raw). Every weight and bias tensor of those layers is
coded: its codebook is the tensor's distinct values, ascending with 0.0 moved to index 0 when
present (the CSR path needs zeros at index 0), and its indices point into it; the codec then
Huffman-codes the indices, or stores them as CSR when that is smaller.

Figures beside the file's bytes, over the N coded entries pooled (zeros included):
    unique_values   distinct values of the whole network (metrics.unique_values)
    entropy_bits    H = -sum_v p_v log2 p_v, bits per weight (metrics.weight_entropy_bits)
    ratio_entropy   32 n_params / (H N + 32 (n_params - N)): the float32 parameters over an
                    ideal entropy code of the coded entries (H bits each, codebooks not counted)
                    plus the other parameters at 32 bits; for networks without BatchNorm
                    (n_params = N) it is 32 / H. ratio_file = 32 n_params / (8 bytes of model.cbk)
                    is what the file achieves (codebooks, Huffman tables, header and BatchNorm
                    statistics included).
"""
from __future__ import annotations

import torch
from torch import nn

from nncompress.coding.codebook import CodebookNet
from nncompress.layers.bayes_by_backprop import bayesian_layers
from nncompress.methods.pwfn.metrics import unique_values, unique_values_per_tensor, weight_entropy_bits
from nncompress.models.spec import ArchSpec


def coded_tensors(bayes_net: nn.Module) -> dict[str, torch.Tensor]:
    """{plain state-dict name: effective mean} of every weight and bias of the Bayesian layers."""
    out = {}
    for layer_name, layer in bayesian_layers(bayes_net):
        for name in layer.posterior_names:
            out[f"{layer_name}.{name}" if layer_name else name] = layer.mean(name).detach().cpu()
    return out


def fixed_network(spec: ArchSpec, bayes_net: nn.Module) -> nn.Module:
    """The plain architecture holding the Bayesian layers' means and the rest of the trained state."""
    plain = spec.build()
    bayes_state = bayes_net.state_dict()
    coded = coded_tensors(bayes_net)
    state = {}
    for name, like in plain.state_dict().items():
        value = coded.get(name, bayes_state.get(name))
        if value is None:
            raise ValueError(f"{name}: no value in the PWFN network for this state entry of {spec.name}")
        state[name] = value.detach().cpu().to(like.dtype).reshape(like.shape)
    plain.load_state_dict(state)
    return plain.eval()


def codebook_of(tensor: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(float32 codebook of the distinct values, 0.0 first when present; int64 indices of tensor's shape)."""
    values = tensor.detach().cpu().to(torch.float32) + 0.0  # -0.0 -> +0.0: one zero
    book, inverse = torch.unique(values, sorted=True, return_inverse=True)
    zero = (book == 0).nonzero()
    if zero.numel():
        k = int(zero[0])
        order = torch.cat([torch.tensor([k]), torch.arange(k), torch.arange(k + 1, book.numel())])
        position = torch.empty_like(order)
        position[order] = torch.arange(order.numel())
        book, inverse = book[order], position[inverse]
    return book, inverse.reshape(tensor.shape).to(torch.int64)


def compressibility(tensors: dict[str, torch.Tensor], layer_of: dict[str, str]) -> dict:
    """Unique values (network and per layer) and entropy of the pooled coded tensors."""
    per_layer: dict[str, list] = {}
    for name, tensor in tensors.items():
        per_layer.setdefault(layer_of[name], []).append(tensor)
    return {"unique_values": unique_values(tensors.values()),
            "unique_values_per_layer": unique_values_per_tensor(per_layer),
            "entropy_bits": weight_entropy_bits(tensors.values())}


def layer_names_of(tensors: dict[str, torch.Tensor]) -> dict[str, str]:
    """state-dict name -> its layer's name (conv1.weight -> conv1)."""
    return {name: name.rsplit(".", 1)[0] for name in tensors}


def to_codebook(spec: ArchSpec, bayes_net: nn.Module, n_params: int) -> tuple[CodebookNet, nn.Module, dict]:
    """(payload for the codebook codec, the plain fixed network, results.json keys)."""
    plain = fixed_network(spec, bayes_net)
    tensors = coded_tensors(bayes_net)
    codes = {name: codebook_of(tensor) for name, tensor in tensors.items()}
    stats = compressibility(tensors, layer_names_of(tensors))
    n_coded = sum(t.numel() for t in tensors.values())
    entropy_bits = stats["entropy_bits"]
    stats.update(n_coded_entries=n_coded,
                 ratio_entropy=32 * n_params / (entropy_bits * n_coded + 32 * (n_params - n_coded))
                 if entropy_bits > 0 or n_params > n_coded else float("inf"))
    return CodebookNet.from_network(spec, plain, codes), plain, stats
