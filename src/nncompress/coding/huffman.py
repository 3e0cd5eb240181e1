"""Canonical Huffman coding of non-negative integer symbols (the last stage of Deep Compression).

Byte layout of `encode(symbols)`:

    varint n (number of symbols) | varint k (number of distinct symbols)
    | k x (varint symbol, varint code length), in canonical order (length, then symbol)
    | bit stream: each symbol's canonical code, MSB first, zero-padded to a whole byte

The code table is fully determined by the (symbol, length) pairs, so only lengths are stored.
A lone distinct symbol gets the 1-bit code "0" (one bit per occurrence), which keeps the
format uniform at a negligible cost.
"""
from __future__ import annotations

import heapq
from collections import Counter

from nncompress.coding import varint

# Codes up to this length are decoded with one table lookup; longer ones bit by bit.
_TABLE_BITS = 12


def code_lengths(counts: dict) -> dict:
    """Optimal prefix-code lengths for `counts` (symbol -> count); zero counts are dropped.

    Ties are broken first by weight, then by the smallest symbol in a subtree, so the result
    does not depend on dict order. A single symbol gets length 1; no symbols give {}.
    """
    for s, c in counts.items():
        if c < 0:
            raise ValueError(f"negative count {c} for symbol {s!r}")
    symbols = sorted(s for s, c in counts.items() if c > 0)
    if not symbols:
        return {}
    if len(symbols) == 1:
        return {symbols[0]: 1}
    # Heap items: (weight, smallest leaf rank in subtree, node id). The rank of the smallest
    # leaf is unique among live subtrees, so comparisons never reach the node id ambiguity.
    parent = [-1] * len(symbols)
    heap = [(counts[s], rank, rank) for rank, s in enumerate(symbols)]
    heapq.heapify(heap)
    while len(heap) > 1:
        w1, r1, n1 = heapq.heappop(heap)
        w2, r2, n2 = heapq.heappop(heap)
        node = len(parent)
        parent.append(-1)
        parent[n1] = parent[n2] = node
        heapq.heappush(heap, (w1 + w2, min(r1, r2), node))
    # Internal nodes are created after their children, so a reverse sweep sees parents first.
    depth = [0] * len(parent)
    for node in range(len(parent) - 2, -1, -1):
        depth[node] = depth[parent[node]] + 1
    return {s: depth[rank] for rank, s in enumerate(symbols)}


def canonical_codes(lengths: dict) -> dict:
    """Canonical codes: symbol -> (code, length), codes assigned in (length, symbol) order."""
    codes = {}
    code = 0
    prev_len = 0
    for s, ln in sorted(lengths.items(), key=lambda kv: (kv[1], kv[0])):
        if ln < 1:
            raise ValueError(f"code length must be >= 1, got {ln} for symbol {s!r}")
        code <<= ln - prev_len
        if code >> ln:
            raise ValueError("code lengths violate the Kraft inequality")
        codes[s] = (code, ln)
        code += 1
        prev_len = ln
    return codes


def _header(n: int, codes: dict) -> bytes:
    parts = [varint.encode(n), varint.encode(len(codes))]
    for s, (_, ln) in codes.items():  # canonical_codes returns canonical order
        parts.append(varint.encode(s))
        parts.append(varint.encode(ln))
    return b"".join(parts)


def _plan(symbols):
    counts = Counter(symbols)
    for s in counts:
        if not isinstance(s, int) or s < 0:
            raise ValueError(f"symbols must be non-negative ints, got {s!r}")
    codes = canonical_codes(code_lengths(counts))
    return counts, codes


def encode(symbols) -> bytes:
    """Self-describing canonical Huffman encoding of a list of non-negative ints."""
    symbols = [int(s) for s in symbols]
    _, codes = _plan(symbols)
    header = _header(len(symbols), codes)
    if not symbols:
        return header
    # One '0'/'1' string per symbol, joined and converted in one go: linear time, unlike
    # growing a Python int bit by bit (each shift copies the whole int).
    table = {s: format(c, f"0{ln}b") for s, (c, ln) in codes.items()}
    bits = "".join([table[s] for s in symbols])
    pad = -len(bits) % 8
    nbytes = (len(bits) + pad) // 8
    return header + (int(bits, 2) << pad).to_bytes(nbytes, "big")


def encoded_bits(symbols) -> dict:
    """Size breakdown of `encode(symbols)` without building the stream.

    header_bits + payload_bits + padding_bits == 8 * len(encode(symbols)).
    """
    symbols = [int(s) for s in symbols]
    counts, codes = _plan(symbols)
    header_bits = 8 * len(_header(len(symbols), codes))
    payload_bits = sum(counts[s] * ln for s, (_, ln) in codes.items())
    padding_bits = -payload_bits % 8
    return {
        "header_bits": header_bits,
        "payload_bits": payload_bits,
        "padding_bits": padding_bits,
        "total_bits": header_bits + payload_bits + padding_bits,
    }


def decode_from(raw: bytes, pos: int = 0, expect: int = None):
    """Decode one encoded block starting at raw[pos]; returns (symbols, next position).

    Untrusted input: the symbol count must equal `expect` when the caller knows it, and the table
    and stream must fit in the bytes that remain (each table entry takes two bytes at least, each
    symbol a bit), all checked before the work they would cause."""
    try:
        n, pos = varint.decode(raw, pos)
        k, pos = varint.decode(raw, pos, limit=max(0, (len(raw) - pos) // 2))
        pairs = []
        for _ in range(k):
            s, pos = varint.decode(raw, pos)
            ln, pos = varint.decode(raw, pos)
            pairs.append((s, ln))
    except ValueError as exc:
        raise ValueError(f"huffman header: {exc}") from None
    if expect is not None and n != expect:
        raise ValueError(f"huffman block holds {n} symbols, {expect} expected")
    if n == 0:
        if k != 0:
            raise ValueError(f"huffman header lists {k} symbols for an empty sequence")
        return [], pos
    if k == 0:
        raise ValueError(f"huffman header has no code table for {n} symbols")
    if n > 8 * (len(raw) - pos):
        raise ValueError(f"huffman bit stream truncated: {n} symbols in {len(raw) - pos} bytes")
    if len({s for s, _ in pairs}) != k:
        raise ValueError("huffman code table repeats a symbol")
    if pairs != sorted(pairs, key=lambda p: (p[1], p[0])):
        raise ValueError("huffman code table is not in canonical order")
    if k == 1 and pairs[0][1] != 1:
        raise ValueError("a single-symbol huffman table must have code length 1")
    # An optimal code over k symbols never needs more than k - 1 bits; this also bounds the
    # work a corrupt header can cause.
    if pairs[-1][1] > max(1, k - 1):
        raise ValueError(f"huffman code length {pairs[-1][1]} is impossible for {k} symbols")
    codes = canonical_codes(dict(pairs))  # raises on zero lengths / Kraft violation
    max_len = max(ln for _, ln in pairs)

    # Only look at as many bytes as n symbols could possibly occupy.
    avail = raw[pos:pos + (n * max_len + 7) // 8]
    nbits_avail = 8 * len(avail)
    if n * pairs[0][1] > nbits_avail:  # even all-shortest codes would not fit
        raise ValueError(f"huffman bit stream truncated: {n} symbols need more than {nbits_avail} bits")
    bits = format(int.from_bytes(avail, "big"), f"0{nbits_avail}b") if avail else ""

    t = min(_TABLE_BITS, max_len)
    # Lookup table over all t-bit windows: window -> (symbol, length) for codes of length <= t.
    table = {}
    for s, (c, ln) in codes.items():
        if ln <= t:
            prefix = format(c, f"0{ln}b")
            for tail in range(1 << (t - ln)):
                table[prefix + (format(tail, f"0{t - ln}b") if t > ln else "")] = (s, ln)
    # For longer codes: canonical decoding by length (first code and its symbols per length).
    by_len = {}
    for s, (c, ln) in codes.items():
        by_len.setdefault(ln, (c, []))[1].append(s)

    padded = bits + "0" * t  # windows near the end must stay t characters long
    out = []
    append = out.append
    p = 0
    for _ in range(n):
        hit = table.get(padded[p:p + t])
        if hit is not None:
            s, ln = hit
            append(s)
            p += ln
            continue
        code, ln = 0, 0
        while True:
            if p + ln >= nbits_avail:
                raise ValueError("huffman bit stream truncated")
            code = (code << 1) | (bits[p + ln] == "1")
            ln += 1
            entry = by_len.get(ln)
            if entry is not None and 0 <= code - entry[0] < len(entry[1]):
                append(entry[1][code - entry[0]])
                p += ln
                break
            if ln > max_len:
                raise ValueError("huffman bit stream holds an invalid code")
    if p > nbits_avail:
        raise ValueError("huffman bit stream truncated")
    used = (p + 7) // 8
    if bits[p:8 * used].count("1"):
        raise ValueError("huffman padding bits are not zero")
    return out, pos + used


def decode(raw: bytes) -> list:
    """Inverse of `encode`; the whole of `raw` must be one encoded block."""
    out, end = decode_from(raw, 0)
    if end != len(raw):
        raise ValueError(f"huffman data has {len(raw) - end} trailing bytes")
    return out
