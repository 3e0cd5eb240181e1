"""Compressed sparse rows with fixed-width *relative* column indices (Deep Compression storage).

A 2-D matrix of codebook indices (0 = the zero value) is stored row by row. Each stored entry
carries a gap instead of an absolute column: for an entry at column c preceded in the same row
by a stored entry at column p, gap = c - p - 1 (the number of skipped columns); the first
stored entry of a row has gap = c (as if p = -1). Gaps are held in `index_bits` bits, so at
most M = 2**index_bits - 1 columns can be skipped at once. A longer run of zeros is bridged by
filler entries of value 0 and gap M, each advancing M + 1 columns; a true gap g therefore needs
floor(g / (M + 1)) fillers and the remaining gap is g mod (M + 1). Trailing zeros in a row cost
nothing: `row_ptr` marks where each row's entries end.

Convolution kernels are handled by the caller: reshape a [out, in, kh, kw] weight to
[out, in * kh * kw] before `to_relative_csr`, and reshape the result of `from_relative_csr`
back.

Serialized layout (`serialize`):

    varint rows | varint cols | index_bits (1 byte)
    | rows x varint (row_ptr[i+1] - row_ptr[i])
    | gaps, bit-packed MSB first with index_bits bits each, zero-padded to a byte
    | values, as one `huffman.encode` block
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from nncompress.coding import bitpack, huffman, varint

_MAX_INDEX_BITS = 32


@dataclass
class RelativeCSR:
    """Relative-index CSR; see the module docstring for the meaning of `gaps`.

    shape: (rows, cols) of the dense matrix.
    values: codebook index per stored entry (0 for filler entries).
    gaps: columns skipped before each stored entry (within its row), each < 2**index_bits.
    row_ptr: len rows + 1; row i's entries are values[row_ptr[i]:row_ptr[i+1]].
    index_bits: width of each stored gap.
    """

    shape: tuple
    values: list = field(default_factory=list)
    gaps: list = field(default_factory=list)
    row_ptr: list = field(default_factory=list)
    index_bits: int = 5

    @property
    def n_fillers(self) -> int:
        """Number of stored zero entries (fillers bridging gaps longer than the index range)."""
        return sum(1 for v in self.values if v == 0)


def _check_bits(index_bits: int) -> None:
    if not 1 <= int(index_bits) <= _MAX_INDEX_BITS:
        raise ValueError(f"index_bits must be in 1..{_MAX_INDEX_BITS}, got {index_bits}")


def to_relative_csr(matrix: torch.Tensor, index_bits: int) -> RelativeCSR:
    """Encode a 2-D integer tensor of codebook indices (0 = zero) as relative-index CSR."""
    _check_bits(index_bits)
    if matrix.dim() != 2:
        raise ValueError(f"expected a 2-D matrix, got shape {tuple(matrix.shape)}")
    if matrix.dtype.is_floating_point or matrix.dtype.is_complex or matrix.dtype == torch.bool:
        raise ValueError(f"expected integer codebook indices, got dtype {matrix.dtype}")
    m = matrix.detach().to("cpu", torch.int64)
    if m.numel() and int(m.min()) < 0:
        raise ValueError("codebook indices must be non-negative")
    rows, cols = m.shape
    max_gap = (1 << index_bits) - 1
    nz = torch.nonzero(m, as_tuple=False)  # row-major order, which CSR needs
    r_list = nz[:, 0].tolist()
    c_list = nz[:, 1].tolist()
    v_list = m[nz[:, 0], nz[:, 1]].tolist() if len(r_list) else []

    values, gaps = [], []
    row_ptr = [0] * (rows + 1)
    cur_row, prev_col = -1, -1
    for r, c, v in zip(r_list, c_list, v_list):
        if r != cur_row:
            for rr in range(cur_row + 1, r + 1):  # close rows up to r (empty ones included)
                row_ptr[rr] = len(values)
            cur_row, prev_col = r, -1
        g = c - prev_col - 1
        while g > max_gap:
            values.append(0)
            gaps.append(max_gap)
            g -= max_gap + 1
        values.append(v)
        gaps.append(g)
        prev_col = c
    for rr in range(cur_row + 1, rows + 1):
        row_ptr[rr] = len(values)
    return RelativeCSR((rows, cols), values, gaps, row_ptr, int(index_bits))


def _validate(csr: RelativeCSR) -> None:
    _check_bits(csr.index_bits)
    rows, cols = csr.shape
    if rows < 0 or cols < 0:
        raise ValueError(f"invalid shape {csr.shape}")
    rp = csr.row_ptr
    if len(rp) != rows + 1 or (rp and rp[0] != 0):
        raise ValueError(f"row_ptr must have {rows + 1} entries starting at 0")
    if any(b < a for a, b in zip(rp, rp[1:])):
        raise ValueError("row_ptr must be non-decreasing")
    if len(csr.values) != rp[-1] or len(csr.gaps) != rp[-1]:
        raise ValueError(
            f"row_ptr ends at {rp[-1]} but there are {len(csr.values)} values and {len(csr.gaps)} gaps"
        )
    limit = 1 << csr.index_bits
    if any(not 0 <= g < limit for g in csr.gaps):
        raise ValueError(f"a gap does not fit in {csr.index_bits} bits")
    if any(v < 0 for v in csr.values):
        raise ValueError("codebook indices must be non-negative")


def _columns(csr: RelativeCSR) -> list:
    """Absolute column of every stored entry (gaps are cumulative within a row)."""
    cols_out = [0] * len(csr.gaps)
    gaps = csr.gaps
    for i in range(len(csr.row_ptr) - 1):
        col = -1
        for j in range(csr.row_ptr[i], csr.row_ptr[i + 1]):
            col += gaps[j] + 1
            cols_out[j] = col
    return cols_out


def from_relative_csr(csr: RelativeCSR) -> torch.Tensor:
    """Dense int64 matrix of codebook indices; exact inverse of `to_relative_csr`."""
    _validate(csr)
    rows, cols = csr.shape
    out = torch.zeros((rows, cols), dtype=torch.int64)
    n = len(csr.values)
    if n == 0:
        return out
    col_idx = _columns(csr)
    if max(col_idx) >= cols:
        raise ValueError(f"gaps run past the last column ({cols})")
    row_idx = torch.repeat_interleave(
        torch.arange(rows), torch.diff(torch.tensor(csr.row_ptr, dtype=torch.int64))
    )
    out[row_idx, torch.tensor(col_idx, dtype=torch.int64)] = torch.tensor(csr.values, dtype=torch.int64)
    return out



def _parts(csr: RelativeCSR):
    """The serialized pieces: header, row_ptr deltas, packed gaps, Huffman-coded values."""
    _validate(csr)
    rows, cols = csr.shape
    header = varint.encode(rows) + varint.encode(cols) + bytes([csr.index_bits])
    rp = csr.row_ptr
    row_ptr = b"".join(varint.encode(b - a) for a, b in zip(rp, rp[1:]))
    gaps = bitpack.pack(csr.gaps, csr.index_bits)
    values = huffman.encode(csr.values)
    return header, row_ptr, gaps, values


def serialize(csr: RelativeCSR) -> bytes:
    """Bytes for `csr` (layout in the module docstring)."""
    return b"".join(_parts(csr))


def deserialize(raw: bytes, pos: int = 0, shape: tuple = None):
    """Parse one serialized RelativeCSR at raw[pos]; returns (csr, next position).

    Untrusted input, checked before anything is allocated: the dimensions equal `shape` when the
    caller knows it, a row holds at most `cols` entries, the gaps take exactly the bytes their count
    needs (zero padding bits), and the Huffman block holds exactly one value per entry."""
    try:
        rows, pos = varint.decode(raw, pos)
        cols, pos = varint.decode(raw, pos)
    except ValueError as exc:
        raise ValueError(f"CSR header truncated: {exc}") from None
    if shape is not None and (rows, cols) != tuple(shape):
        raise ValueError(f"CSR is {rows} x {cols} but the layer is {shape[0]} x {shape[1]}")
    if pos >= len(raw):
        raise ValueError("CSR header truncated: missing index_bits")
    index_bits = raw[pos]
    pos += 1
    _check_bits(index_bits)
    if rows > len(raw) - pos:  # one varint byte at least per row
        raise ValueError(f"CSR announces {rows} rows in {len(raw) - pos} bytes")
    row_ptr = [0]
    try:
        for _ in range(rows):
            d, pos = varint.decode(raw, pos, limit=cols)
            row_ptr.append(row_ptr[-1] + d)
    except ValueError as exc:
        raise ValueError(f"CSR row pointers: {exc}") from None
    n = row_ptr[-1]
    gap_bytes = (index_bits * n + 7) // 8
    if pos + gap_bytes > len(raw):
        raise ValueError(f"CSR gaps truncated: {n} gaps of {index_bits} bits need {gap_bytes} bytes")
    gaps = bitpack.unpack(raw[pos:pos + gap_bytes], index_bits, n)
    if gap_bytes and raw[pos + gap_bytes - 1] & ((1 << (-index_bits * n % 8)) - 1):
        raise ValueError("CSR gap padding bits are not zero")
    pos += gap_bytes
    values, pos = huffman.decode_from(raw, pos, expect=n)
    csr = RelativeCSR((rows, cols), values, gaps, row_ptr, index_bits)
    _validate(csr)
    if n and max(_columns(csr)) >= cols:
        raise ValueError(f"CSR gaps run past the last column ({cols})")
    return csr, pos


def csr_bits(csr: RelativeCSR) -> dict:
    """Size breakdown of `serialize(csr)` in bits, each part as stored (padding included).

    values_bits + index_bits_total + row_ptr_bits + header_bits == 8 * len(serialize(csr)).
    Also reports the unpadded gap bits, the Huffman split and the number of filler entries.
    """
    header, row_ptr, gaps, values = _parts(csr)
    hb = huffman.encoded_bits(csr.values)
    return {
        "values_bits": 8 * len(values),
        "index_bits_total": 8 * len(gaps),
        "row_ptr_bits": 8 * len(row_ptr),
        "header_bits": 8 * len(header),
        "total_bits": 8 * (len(header) + len(row_ptr) + len(gaps) + len(values)),
        "index_bits_raw": csr.index_bits * len(csr.gaps),
        "values_header_bits": hb["header_bits"],
        "values_payload_bits": hb["payload_bits"],
        "n_entries": len(csr.values),
        "n_fillers": csr.n_fillers,
    }
