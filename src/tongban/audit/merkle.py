"""RFC 9162 §2.1 Merkle tree hashing, inclusion and consistency proofs, as pure functions.

The hash function is a parameter (SM3 for the audit log, SHA-256 in the tests against
the Certificate Transparency vectors). Storage stays outside: the proofs are described
as lists of leaf ranges ``[start, end)`` whose Merkle Tree Hash (MTH) they contain, and
every such range splits into aligned complete subtrees (:func:`range_nodes`) that a
store keeps as ``(level, index)`` nodes — so a root or a proof over a million leaves
needs O(log n) stored hashes, never the leaves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from tongban.gm.sm3 import sm3_digest

Hash = Callable[[bytes], bytes]
Node = tuple[int, int]  # (level, index): leaves [index << level, (index + 1) << level)


def leaf_hash(entry: bytes, h: Hash = sm3_digest) -> bytes:
    return h(b"\x00" + entry)


def node_hash(left: bytes, right: bytes, h: Hash = sm3_digest) -> bytes:
    return h(b"\x01" + left + right)


def empty_root(h: Hash = sm3_digest) -> bytes:
    return h(b"")


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def range_nodes(start: int, end: int) -> list[Node]:
    """The aligned complete subtrees, left to right, whose right-to-left combination is
    MTH(D[start:end]). ``start`` must be a multiple of the power of two ≥ end - start
    (true of every subtree in the RFC 9162 recursion)."""
    nodes: list[Node] = []
    size = end - start
    pos = start
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            nodes.append((level, pos >> level))
            pos += 1 << level
    return nodes


def combine(hashes: list[bytes], h: Hash = sm3_digest) -> bytes:
    """MTH of a range from the hashes of its :func:`range_nodes` (left to right)."""
    acc = hashes[-1]
    for left in reversed(hashes[:-1]):
        acc = node_hash(left, acc, h)
    return acc


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """RFC 9162 §2.1.3.1 PATH(index, D[0:size]) as leaf ranges, bottom-up."""
    if not 0 <= index < size:
        raise ValueError("index must be < size")
    out: list[tuple[int, int]] = []
    lo, hi, m = 0, size, index
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo, m = lo + k, m - k
    out.reverse()
    return out


def consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """RFC 9162 §2.1.4.1 PROOF(first, D[0:second]) as leaf ranges; empty when
    first == 0 or first == second."""
    if not 0 <= first <= second:
        raise ValueError("first must be ≤ second")
    if first == 0 or first == second:
        return []
    out: list[tuple[int, int]] = []
    lo, hi, m, b = 0, second, first, True
    while True:
        n = hi - lo
        if m == n:
            if not b:
                out.append((lo, hi))
            break
        k = _split(n)
        if m <= k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo, m, b = lo + k, m - k, False
    out.reverse()
    return out


def nodes_for(ranges: Iterable[tuple[int, int]]) -> set[Node]:
    return {node for a, b in ranges for node in range_nodes(a, b)}


def hashes_for(
    ranges: Iterable[tuple[int, int]], nodes: Mapping[Node, bytes], h: Hash = sm3_digest
) -> list[bytes]:
    return [combine([nodes[n] for n in range_nodes(a, b)], h) for a, b in ranges]


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes, h: Hash = sm3_digest
) -> bool:
    """RFC 9162 §2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r, h)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p, h)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int,
    second: int,
    first_root: bytes,
    second_root: bytes,
    proof: list[bytes],
    h: Hash = sm3_digest,
) -> bool:
    """RFC 9162 §2.1.4.2 (and the trivial cases first == 0, first == second)."""
    if not 0 <= first <= second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr, h)
            sr = node_hash(c, sr, h)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c, h)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


class StreamingRoot:
    """MTH of a growing sequence of leaf hashes in O(log n) memory (for verification)."""

    def __init__(self, h: Hash = sm3_digest) -> None:
        self.h = h
        self.size = 0
        self._stack: list[tuple[int, bytes]] = []  # (level, hash), levels strictly decreasing

    def add(self, leaf: bytes) -> list[tuple[int, bytes]]:
        """Add the next leaf hash; returns the complete subtrees (level ≥ 1, hash) it closes."""
        level, acc = 0, leaf
        closed: list[tuple[int, bytes]] = []
        while self._stack and self._stack[-1][0] == level:
            _, left = self._stack.pop()
            acc = node_hash(left, acc, self.h)
            level += 1
            closed.append((level, acc))
        self._stack.append((level, acc))
        self.size += 1
        return closed

    def root(self) -> bytes:
        if not self._stack:
            return empty_root(self.h)
        return combine([hsh for _, hsh in self._stack], self.h)
