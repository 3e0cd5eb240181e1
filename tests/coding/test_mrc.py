"""Minimal random coding: selection law, chunk independence, encode -> file -> decode, resume."""
import math

import pytest
import torch

from nncompress.coding import generator as G
from nncompress.coding.container import read_container, write_container
from nncompress.coding.encoder import MRCConfig, MRCEncoder
from nncompress.coding.mrc import (MRCPayload, candidate_key, decode_weights, materialise, search_block,
                                   weights_sha256)
from nncompress.methods.miracle import MiracleModule
from nncompress.models.coded import ArchSpec, CodedNetwork

# A heavily hashed LeNet-5: 1,380 coded variables, 46 blocks of 30 — seconds to code.
TINY = ArchSpec("lenet5", {"conv1": 10, "conv2": 100, "fc1": 1000, "fc2": 50})


def _block(dim=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    rho = torch.full((dim,), 0.1)
    mu = torch.randn(dim, generator=g) * 0.05
    sigma = torch.rand(dim, generator=g) * 0.05 + 0.02
    return mu, sigma, rho


def _log_ratios(seed, block, mu, sigma, rho, k):
    w = rho * G.normals(candidate_key(seed, block), 0, k, len(mu)).double()
    lq = torch.distributions.Normal(mu.double(), sigma.double()).log_prob(w).sum(1)
    lp = torch.distributions.Normal(0.0, rho.double()).log_prob(w).sum(1)
    return lq - lp


def test_argmax_is_the_best_candidate_by_brute_force():
    mu, sigma, rho = _block()
    found = search_block(0, 3, mu, sigma, rho, 4096, chunk=500, selection="argmax")
    lr = _log_ratios(0, 3, mu, sigma, rho, 4096)
    assert found.index == int(lr.argmax())
    assert found.log_ratio == pytest.approx(float(lr.max()), abs=1e-3)


@pytest.mark.parametrize("chunk", [64, 1000, 4096])
def test_index_independent_of_chunk(chunk):
    mu, sigma, rho = _block()
    ref = search_block(0, 5, mu, sigma, rho, 4096, chunk=4096).index
    assert search_block(0, 5, mu, sigma, rho, 4096, chunk=chunk).index == ref


def test_selected_samples_follow_the_posterior():
    # With K >> exp(KL) the coded sample is (close to) a draw from q: check its first two moments.
    mu, sigma, rho = torch.tensor([0.05]), torch.tensor([0.03]), torch.tensor([0.1])
    draws = torch.stack([materialise(0, b, search_block(0, b, mu, sigma, rho, 1024).index, rho)
                         for b in range(300)]).flatten()
    assert abs(draws.mean().item() - 0.05) < 4 * 0.03 / math.sqrt(300)
    assert 0.022 < draws.std().item() < 0.038


def test_materialise_is_rho_times_canonical_normals():
    rho = torch.tensor([0.1, 0.2, 0.3])
    z = G.canonical_normals(candidate_key(9, 2), 77, 3)
    assert torch.equal(materialise(9, 2, 77, rho), rho * z)


def test_bad_selection_rejected():
    with pytest.raises(ValueError, match="selection"):
        search_block(0, 0, *_block(), 16, selection="best")


def _encode(tmp_path, name, state=None, stop_after=None, bits=8, seed=0):
    torch.manual_seed(0)
    module = MiracleModule(CodedNetwork(TINY), "meankl", block_size=30, bits_per_block=bits, partition_seed=seed)
    data = torch.Generator().manual_seed(1)
    x, y = torch.randn(400, 1, 28, 28, generator=data), torch.randint(0, 10, (400,), generator=data)

    def on_block(b, _):
        if stop_after is not None and b == stop_after:
            raise KeyboardInterrupt

    cfg = MRCConfig(bits_per_block=bits, finetune_steps=2, batch_size=50, chunk_log2=6, checkpoint_seconds=0)
    enc = MRCEncoder(module, x, y, cfg, seed=seed, state_path=state, progress=False, on_block=on_block)
    payload = enc.run()
    path = tmp_path / name
    write_container(path, "mrc", payload.to_bytes())
    return module, path


def test_encode_decode_round_trip(tmp_path):
    module, path = _encode(tmp_path, "a.mrc")
    kind, raw = read_container(path)
    payload = MRCPayload.from_bytes(raw)
    assert kind == "mrc" and payload.spec == TINY and len(payload.indices) == 46
    network, weights = decode_weights(payload)
    assert weights_sha256(weights) == weights_sha256(module.fixed_values)
    x = torch.randn(8, 1, 28, 28)
    assert torch.equal(network(x, weights), module.network(x, module.fixed_values))
    # 46 indices of 8 bits = 46 bytes; the rest (spec, seed, sizes, 4 scales, framing) stays small.
    assert path.stat().st_size == len(raw) + 10
    assert len(raw) - 46 <= 48


def test_same_seed_same_bytes_and_resume_is_identical(tmp_path):
    _, ref = _encode(tmp_path, "ref.mrc")
    _, again = _encode(tmp_path, "again.mrc")
    assert ref.read_bytes() == again.read_bytes()
    state = tmp_path / "coding_state.pt"
    with pytest.raises(KeyboardInterrupt):
        _encode(tmp_path, "cut.mrc", state=state, stop_after=20)
    assert torch.load(state, weights_only=False)["next_block"] == 21
    _, resumed = _encode(tmp_path, "resumed.mrc", state=state)
    assert resumed.read_bytes() == ref.read_bytes()


def test_resume_refuses_a_foreign_state(tmp_path):
    state = tmp_path / "coding_state.pt"
    with pytest.raises(KeyboardInterrupt):
        _encode(tmp_path, "cut.mrc", state=state, stop_after=3)
    with pytest.raises(RuntimeError, match="different configuration"):
        _encode(tmp_path, "other.mrc", state=state, bits=7)


def test_candidates_cannot_exceed_the_index_space():
    with pytest.raises(ValueError, match="candidates_log2"):
        MRCConfig(bits_per_block=8, candidates_log2=9).n_candidates
