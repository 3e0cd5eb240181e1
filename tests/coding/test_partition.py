"""Space-partitioned PFR (coding.partition): the bin-by-bin search finds the exhaustive search's
index, its point is an exact sample of q, the decoder rebuilds it, and (bin, arrival) costs about
PFR's log2 K while searching a few hundred points where PFR needs ~2^KL."""
import math

import numpy as np
import pytest
import torch
from scipy import stats

from nncompress.coding import partition as P
from nncompress.coding.gaussian_coders import LI_EL_GAMAL_LOG2K, posterior


def _exhaustive(seed, block, mu, sigma, rho, bits, n):
    """argmax over every bin and its first n arrivals of L - ln G: (bin, arrival)."""
    per_dim = P.allocation(len(mu), bits)
    best = (-math.inf, None)
    for c in range(1 << sum(per_dim)):
        g = torch.cumsum(P._arrival_increments(seed, block, c, 0, n), 0)
        s = P.log_ratio(P.points(seed, block, c, 0, n, rho, per_dim), mu, sigma, rho) - torch.log(g)
        k = int(torch.argmax(s))
        if float(s[k]) > best[0]:
            best = (float(s[k]), (c, k))
    return best[1]


@pytest.mark.parametrize("dim,bits", [(1, 3), (2, 3), (3, 2), (3, [0, 3, 1])])
def test_search_is_the_exhaustive_argmax(dim, bits):
    """B bits spread evenly, or an allocation of its own to each dimension (one with none)."""
    mu, sigma, rho = posterior(4.0, dim)
    if not isinstance(bits, int):  # dimensions of unequal KL, the allocation favouring the narrow one
        sigma = sigma * torch.tensor([1.6, 0.5, 1.0], dtype=torch.float64)
    for block in range(6):
        r = P.search_block(7, block, mu, sigma, rho, bits)
        assert (r.bin, r.arrival) == _exhaustive(7, block, mu, sigma, rho, bits, 1 << 12)
        assert r.searched < (1 << sum(P.allocation(dim, bits))) * (1 << 12)


def test_decoder_rebuilds_the_point_and_its_log_ratio():
    mu, sigma, rho = posterior(20.0, 2)
    r = P.search_block(0, 3, mu, sigma, rho, 18)
    x = P.points(0, 3, r.bin, r.arrival, 1, rho, P.bits_per_dim(2, 18))
    assert float(P.log_ratio(x, mu, sigma, rho)) == r.log_ratio
    # the point lies in its bin: each coordinate's prior quantile within the bin's interval
    for i, (j, b) in enumerate(zip(P._split(r.bin, [9, 9]), [9, 9])):
        u = stats.norm.cdf(float(x[0, i] / rho[i]))
        assert j / (1 << b) <= u <= (j + 1) / (1 << b)


def test_points_are_an_exact_sample_of_q():
    """PIT of 800 coded points (independent blocks) against q: Kolmogorov-Smirnov does not reject,
    in 1 and 2 dimensions; the bins split the prior, and q's mass lies across several of them."""
    for dim, bits in ((1, 2), (2, 4)):
        mu, sigma, rho = posterior(3.0, dim)
        xs = []
        for block in range(800):
            r = P.search_block(1, block, mu, sigma, rho, bits)
            xs.append(P.points(1, block, r.bin, r.arrival, 1, rho, P.bits_per_dim(dim, bits))[0].numpy())
        pit = stats.norm.cdf((np.array(xs) - mu.numpy()) / sigma.numpy())
        for i in range(dim):
            assert stats.kstest(pit[:, i], "uniform").pvalue > 0.01


def test_code_length_keeps_pfrs_bound_and_the_search_is_short():
    """E[log2 J + log2(n + 1)] within Li & El Gamal's KL + 1.53 bits; at KL 20 in one dimension
    a few hundred points a block (PFR: ~2^20)."""
    for kl, bits in ((8, 6), (20, 18)):
        mu, sigma, rho = posterior(float(kl), 1)
        rs = [P.search_block(0, b, mu, sigma, rho, bits) for b in range(300)]
        log2k = np.mean([bits + math.log2(r.arrival + 1) for r in rs])
        assert kl - 3 < log2k <= kl + LI_EL_GAMAL_LOG2K
        assert max(r.searched for r in rs) <= 4096


def test_golden_indices():
    """The generator stream of the bins is part of the format: these (bin, arrival) must not move."""
    mu, sigma, rho = posterior(20.0, 2)
    assert [(r.bin, r.arrival) for r in (P.search_block(0, b, mu, sigma, rho, 18) for b in range(3))] == \
        [(181090, 24), (181090, 18), (181602, 6)]


def test_quantiles_are_symmetric_and_bad_arguments_refused():
    j = torch.tensor([0.0, 5.0, 1000.0], dtype=torch.float64)
    v = torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64)
    n = float(1 << 12)
    assert torch.equal(P._quantile(j, v, 12), -P._quantile(n - 1 - j, 1 - v, 12))
    assert P.bits_per_dim(3, 8) == [3, 3, 2]
    mu, sigma, rho = posterior(4.0, 1)
    with pytest.raises(ValueError, match="sigma < rho"):
        P.search_block(0, 0, mu, rho, rho, 2)
    with pytest.raises(ValueError, match="partition bits"):
        P.search_block(0, 0, mu, sigma, rho, 61)
    with pytest.raises(ValueError, match="exceed 29 a dimension"):
        P.bits_per_dim(2, 59)
    assert P.allocation(3, [0, 3, 1]) == [0, 3, 1] and P.allocation(3, 4) == [2, 1, 1]
    for bad in ([1, 2], [-1, 1, 1], [30, 0, 0], [29, 29, 29]):
        with pytest.raises(ValueError, match="an allocation needs 3 values"):
            P.allocation(3, bad)
    with pytest.raises(ValueError, match="one value a dimension, got 2, 2, 1"):
        P.search_block(0, 0, mu.repeat(2), sigma.repeat(2), rho, 2)


@pytest.mark.parametrize("mu,b", [(0.05, 12), (0.0, 1), (-0.3, 6), (0.9, 20)])
def test_ranking_starts_at_the_peak_interval_and_never_increases(mu, b):
    """The best-first search's stopping rule rests on this: each dimension's intervals in
    non-increasing order of their bound, the first one holding L's peak."""
    r = P._Ranking(mu, 0.01, 0.1, b)
    n = min(1 << b, 200)
    bounds = [r[k][0] for k in range(n)]
    assert all(a >= c for a, c in zip(bounds, bounds[1:]))
    assert r[0][0] == max(r._bound(j) for j in range(max(0, r[0][1] - 3), min(1 << b, r[0][1] + 4)))
    js = sorted(r[k][1] for k in range(n))
    assert js == list(range(js[0], js[-1] + 1))  # a contiguous run of intervals around the peak


def test_benchmark_runs_the_chosen_coders(tmp_path, capsys):
    """`python -m nncompress.bench.rec_coders --coders sppfr pfr --json F`: a row per coder and dimension."""
    import json

    from nncompress.bench.rec_coders import main

    main(["--kl", "4", "--dim", "1", "2", "--blocks", "40", "--coders", "sppfr", "pfr",
          "--json", str(tmp_path / "r.json")])
    rows = json.loads((tmp_path / "r.json").read_text())
    assert [(r["coder"], r["dim"]) for r in rows] == [("sppfr", 1), ("pfr", 1), ("sppfr", 2), ("pfr", 2)]
    assert all(r["candidates_log2"] == 2 for r in rows if r["coder"] == "sppfr")  # J = 2^(KL - SP_SLACK)
    assert "sppfr" in capsys.readouterr().out


def test_d_inf_is_the_sup_of_the_log_ratio_on_a_grid():
    from nncompress.bench.sp_blocks import d_inf_bits

    mu, sigma, rho = (torch.tensor(v, dtype=torch.float64) for v in ([0.03, -0.1, 0.0], [0.05, 0.02, 0.09], [0.1] * 3))
    x = torch.linspace(-2, 2, 400_001, dtype=torch.float64)[:, None]
    grid = (torch.log(rho / sigma) - (x - mu) ** 2 / (2 * sigma**2) + x**2 / (2 * rho**2)).max(0).values / math.log(2)
    assert torch.allclose(d_inf_bits(mu, sigma, rho), grid, atol=1e-6)
    assert float(d_inf_bits(mu[:1], rho[:1], rho[:1])[0]) == math.inf  # sigma = rho: q / p unbounded


def test_sp_blocks_reads_a_run_and_reports_where_the_search_ends(tmp_path, capsys):
    """`python -m nncompress.bench.sp_blocks RUN`: KL and D_inf per block from model.mrc + posterior.npz;
    a block of little KL ends within the cap, one whose D_inf is far above it does not."""
    from nncompress.bench.sp_blocks import greedy_allocation, main
    from nncompress.coding.codec import get_codec, write_file
    from nncompress.coding.mrc import MRCPayload
    from nncompress.core.blocks import BlockPartition
    from nncompress.models.coded import CodedNetwork
    from nncompress.models.spec import ArchSpec

    assert greedy_allocation([3.2, 0.1, 1.4], 4) == [3, 0, 1]
    spec = ArchSpec("lenet300_100", {"fc1": 64, "fc2": 64, "fc3": 8}, 1, 10, 8, 3)
    net = CodedNetwork(spec)
    rho_layer = torch.full((net.n_layers,), 0.1)
    part = BlockPartition(net.n_coded, 4, 7)
    write_file(tmp_path / "model.mrc", get_codec("mrc"), MRCPayload(spec, 7, 4, 8, rho_layer, [0] * part.n_blocks), 1)
    rho = rho_layer[net.layer_of].double()
    mu, sigma = torch.full_like(rho, 0.02), rho * 0.95  # ~0.05 bits a weight
    sigma[part.members(1)] = 0.004  # block 1: KL ~16 bits, D_inf ~19
    np.savez(tmp_path / "posterior.npz", mu=mu.numpy(), log_sigma=sigma.log().numpy())
    main([str(tmp_path), "--blocks", "0", "1", "--cap", "14"])
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{part.n_blocks} blocks of 4: ")
    assert "block 0: " in out[1] and "ended after" in out[1]
    assert "block 1: " in out[2] and "passed 2^14 points" in out[2]
    # the per-block sums are the members' sums (BlockPartition.block_sum)
    assert f"D_inf {float(d_inf_bits_of(mu, sigma, rho, part.members(1))):.2f} bits" in out[2]
    with pytest.raises(SystemExit, match=f"block {part.n_blocks} is outside 0..{part.n_blocks - 1}"):
        main([str(tmp_path), "--blocks", str(part.n_blocks)])
    (tmp_path / "posterior.npz").unlink()
    with pytest.raises(SystemExit, match="has no posterior.npz: give the run dir of an mkl run"):
        main([str(tmp_path), "--blocks", "0"])
    with pytest.raises(ValueError, match="61 partition bits exceed 29 a dimension over 2"):
        greedy_allocation([1.0, 2.0], 61)


def d_inf_bits_of(mu, sigma, rho, members):
    from nncompress.bench.sp_blocks import d_inf_bits

    return d_inf_bits(mu[members], sigma[members], rho[members]).sum()
