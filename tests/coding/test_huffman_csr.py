"""Canonical Huffman coding and relative-index CSR storage (Deep Compression's final stages)."""
import heapq
import math
import random

import pytest
import torch

from nncompress.coding import csr as C
from nncompress.coding import huffman, varint

# ---------------------------------------------------------------- Huffman


def _optimal_total_bits(counts):
    """Minimal total code length, computed independently: the sum of all merged weights."""
    w = [c for c in counts.values() if c > 0]
    if len(w) == 1:
        return w[0]  # one symbol still costs one bit per occurrence in this format
    heapq.heapify(w)
    total = 0
    while len(w) > 1:
        s = heapq.heappop(w) + heapq.heappop(w)
        total += s
        heapq.heappush(w, s)
    return total


def test_dyadic_lengths_and_entropy():
    counts = {0: 8, 1: 4, 2: 2, 3: 1, 4: 1}
    lengths = huffman.code_lengths(counts)
    assert lengths == {0: 1, 1: 2, 2: 3, 3: 4, 4: 4}
    n = sum(counts.values())
    avg = sum(counts[s] * lengths[s] for s in counts) / n
    entropy = -sum(c / n * math.log2(c / n) for c in counts.values())
    assert avg == pytest.approx(entropy, abs=1e-12)


def test_lengths_edge_cases_and_determinism():
    assert huffman.code_lengths({}) == {}
    assert huffman.code_lengths({7: 0}) == {}
    assert huffman.code_lengths({7: 5, 3: 0}) == {7: 1}
    # Equal counts: result must not depend on insertion order.
    a = huffman.code_lengths({0: 1, 1: 1, 2: 1})
    b = huffman.code_lengths({2: 1, 1: 1, 0: 1})
    assert a == b and sorted(a.values()) == [1, 2, 2]
    with pytest.raises(ValueError):
        huffman.code_lengths({0: -1})


def test_kraft_equality_and_optimality_random():
    rng = random.Random(0)
    for _ in range(200):
        k = rng.randint(2, 40)
        counts = {rng.randrange(1000): rng.randint(1, 500) for _ in range(k)}
        if len(counts) < 2:
            continue
        lengths = huffman.code_lengths(counts)
        assert set(lengths) == set(counts)
        assert sum(2.0 ** -ln for ln in lengths.values()) == pytest.approx(1.0, abs=1e-12)
        total = sum(counts[s] * lengths[s] for s in counts)
        assert total == _optimal_total_bits(counts)
        # The encoder's payload is exactly that many bits.
        symbols = [s for s, c in counts.items() for _ in range(c)]
        rng.shuffle(symbols)
        assert huffman.encoded_bits(symbols)["payload_bits"] == total


def test_canonical_codes_prefix_free_and_ordered():
    lengths = {5: 2, 1: 2, 9: 3, 0: 3, 4: 2}
    codes = huffman.canonical_codes(lengths)
    assert list(codes) == [1, 4, 5, 0, 9]
    assert [codes[s] for s in codes] == [(0, 2), (1, 2), (2, 2), (6, 3), (7, 3)]
    words = [format(c, f"0{ln}b") for c, ln in codes.values()]
    for i, a in enumerate(words):
        for j, b in enumerate(words):
            assert i == j or not b.startswith(a)
    with pytest.raises(ValueError, match="Kraft"):
        huffman.canonical_codes({0: 1, 1: 1, 2: 1})


@pytest.mark.parametrize("seq", [[], [0], [42], [3] * 17, [0, 1], [1, 0, 0, 0, 2, 300, 2**40]])
def test_small_round_trips(seq):
    raw = huffman.encode(seq)
    assert huffman.decode(raw) == seq
    sizes = huffman.encoded_bits(seq)
    assert sizes["header_bits"] + sizes["payload_bits"] + sizes["padding_bits"] == 8 * len(raw)


def test_empty_and_single_symbol_layout():
    assert huffman.encode([]) == varint.encode(0) + varint.encode(0)
    # Single symbol: 1-bit code "0", so 9 occurrences take 2 payload bytes.
    raw = huffman.encode([5] * 9)
    assert raw == bytes([9, 1, 5, 1, 0, 0])


def test_random_round_trips_and_long_codes():
    rng = random.Random(1)
    for _ in range(60):
        k = rng.randint(1, 50)
        alphabet = rng.sample(range(100_000), k)
        weights = [rng.expovariate(1.0) ** 3 + 1e-3 for _ in alphabet]
        seq = rng.choices(alphabet, weights, k=rng.randint(0, 400))
        assert huffman.decode(huffman.encode(seq)) == seq
    # Fibonacci counts give the deepest tree: codes longer than the decoder's lookup table.
    fib = [1, 1]
    while len(fib) < 22:
        fib.append(fib[-1] + fib[-2])
    seq = [s for s, c in enumerate(fib) for _ in range(c)]
    rng.shuffle(seq)
    assert max(huffman.code_lengths({s: c for s, c in enumerate(fib)}).values()) == 21
    assert huffman.decode(huffman.encode(seq)) == seq


def test_bad_input_raises():
    raw = huffman.encode([0, 1, 1, 2, 2, 2, 2, 2, 2, 2])
    for cut in range(len(raw)):
        with pytest.raises(ValueError):
            huffman.decode(raw[:cut])
    with pytest.raises(ValueError, match="trailing"):
        huffman.decode(raw + b"\x00")
    with pytest.raises(ValueError, match="canonical"):
        huffman.decode(bytes([2, 2, 1, 2, 0, 1]) + b"\x00")
    with pytest.raises(ValueError, match="no code table"):
        huffman.decode(bytes([3, 0]))
    with pytest.raises(ValueError):
        huffman.encode([-1])


# ---------------------------------------------------------------- CSR


def _random_sparse(rng, rows, cols, density, k):
    g = torch.Generator().manual_seed(rng.randrange(2**31))
    vals = torch.randint(1, k + 1, (rows, cols), generator=g)
    keep = torch.rand(rows, cols, generator=g) < density
    return vals * keep


@pytest.mark.parametrize("bits", [3, 5, 8])
def test_csr_round_trip_random(bits):
    rng = random.Random(bits)
    for _ in range(8):
        rows, cols = rng.randint(1, 30), rng.randint(1, 300)
        m = _random_sparse(rng, rows, cols, rng.choice([0.0, 0.01, 0.05, 0.3, 1.0]), rng.randint(1, 20))
        csr = C.to_relative_csr(m, bits)
        assert len(csr.row_ptr) == rows + 1
        assert all(0 <= g < 2**bits for g in csr.gaps)
        assert torch.equal(C.from_relative_csr(csr), m)
        raw = C.serialize(csr)
        back, end = C.deserialize(raw)
        assert end == len(raw) and back == csr
        assert torch.equal(C.from_relative_csr(back), m)


def test_gap_definition():
    m = torch.tensor([[0, 3, 0, 0, 2], [4, 0, 0, 0, 0], [0, 0, 0, 0, 0]])
    csr = C.to_relative_csr(m, 5)
    assert csr.values == [3, 2, 4]
    assert csr.gaps == [1, 2, 0]
    assert csr.row_ptr == [0, 2, 3, 3]


def test_long_gap_inserts_fillers():
    m = torch.zeros(2, 128, dtype=torch.int64)
    m[0, 100] = 5
    m[1, 127] = 2
    csr = C.to_relative_csr(m, 3)
    # Max gap 7: each filler advances 8 columns. Gap 100 -> floor(100/8) = 12 fillers at
    # columns 7, 15, ..., 95, then the real entry with gap 100 - 96 = 4.
    row0 = slice(csr.row_ptr[0], csr.row_ptr[1])
    assert csr.values[row0] == [0] * 12 + [5]
    assert csr.gaps[row0] == [7] * 12 + [4]
    # Gap 127 -> floor(127/8) = 15 fillers, remaining gap 127 - 120 = 7 (fits exactly).
    row1 = slice(csr.row_ptr[1], csr.row_ptr[2])
    assert csr.values[row1] == [0] * 15 + [2]
    assert csr.gaps[row1] == [7] * 15 + [7]
    assert csr.n_fillers == 27
    assert torch.equal(C.from_relative_csr(csr), m)
    back, _ = C.deserialize(C.serialize(csr))
    assert torch.equal(C.from_relative_csr(back), m)


def test_all_zero_and_empty_matrices():
    for shape in [(4, 50), (0, 3), (3, 0), (0, 0)]:
        m = torch.zeros(shape, dtype=torch.int64)
        csr = C.to_relative_csr(m, 5)
        assert csr.values == [] and csr.row_ptr == [0] * (shape[0] + 1)
        raw = C.serialize(csr)
        back, end = C.deserialize(raw)
        assert end == len(raw) and torch.equal(C.from_relative_csr(back), m)


def test_conv_reshape_convention():
    w = _random_sparse(random.Random(3), 6 * 3 * 5 * 5, 1, 0.2, 8).view(6, 3, 5, 5)
    csr = C.to_relative_csr(w.reshape(6, -1), 8)
    assert torch.equal(C.from_relative_csr(csr).view(6, 3, 5, 5), w)


def test_csr_bits_breakdown():
    rng = random.Random(7)
    for bits in (3, 5, 8):
        m = _random_sparse(rng, 20, 200, 0.05, 15)
        csr = C.to_relative_csr(m, bits)
        raw = C.serialize(csr)
        b = C.csr_bits(csr)
        parts = b["values_bits"] + b["index_bits_total"] + b["row_ptr_bits"] + b["header_bits"]
        assert parts == b["total_bits"] == 8 * len(raw)
        # Each stored part differs from its unpadded content by less than a byte.
        assert 0 <= b["index_bits_total"] - b["index_bits_raw"] < 8
        assert 0 <= b["values_bits"] - b["values_header_bits"] - b["values_payload_bits"] < 8
        assert b["index_bits_raw"] == bits * len(csr.gaps)


def test_csr_rejects_bad_input():
    with pytest.raises(ValueError):
        C.to_relative_csr(torch.zeros(3), 5)
    with pytest.raises(ValueError):
        C.to_relative_csr(torch.zeros(2, 2), 5)  # float, not codebook indices
    with pytest.raises(ValueError):
        C.to_relative_csr(torch.tensor([[-1, 0]]), 5)
    with pytest.raises(ValueError):
        C.to_relative_csr(torch.zeros(2, 2, dtype=torch.int64), 0)
    m = torch.tensor([[0, 1, 0, 2], [3, 0, 0, 0]])
    raw = C.serialize(C.to_relative_csr(m, 3))
    for cut in range(len(raw)):
        with pytest.raises(ValueError):
            C.deserialize(raw[:cut])
    # A gap that runs past the last column is caught.
    bad = C.RelativeCSR((1, 4), [1], [5], [0, 1], 3)
    with pytest.raises(ValueError, match="past the last column"):
        C.from_relative_csr(bad)
    with pytest.raises(ValueError, match="past the last column"):
        C.deserialize(C.serialize(bad))
