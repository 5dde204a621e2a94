"""RFC 9162 tree hashing and proofs, against the Certificate Transparency vectors and an
independent naive recursive implementation (SHA-256), then over SM3."""

import hashlib

import pytest

from tongban.audit import merkle
from tongban.gm.sm3 import sm3_digest


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


# The leaves and roots of certificate-transparency's merkle_tree_test (RFC 6962 hashing)
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    bytes(range(0x60, 0x70)),
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


# --- an independent, literal transcription of RFC 9162 §2.1 over the leaf list ---
def naive_mth(d, h):
    if not d:
        return h(b"")
    if len(d) == 1:
        return h(b"\x00" + d[0])
    k = 1
    while k * 2 < len(d):
        k *= 2
    return h(b"\x01" + naive_mth(d[:k], h) + naive_mth(d[k:], h))


def naive_path(m, d, h):
    if len(d) == 1:
        return []
    k = 1
    while k * 2 < len(d):
        k *= 2
    if m < k:
        return naive_path(m, d[:k], h) + [naive_mth(d[k:], h)]
    return naive_path(m - k, d[k:], h) + [naive_mth(d[:k], h)]


def naive_subproof(m, d, b, h):
    n = len(d)
    if m == n:
        return [] if b else [naive_mth(d, h)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return naive_subproof(m, d[:k], b, h) + [naive_mth(d[k:], h)]
    return naive_subproof(m - k, d[k:], False, h) + [naive_mth(d[:k], h)]


class Store:
    """All complete-subtree hashes of a leaf list, as an audit store keeps them."""

    def __init__(self, leaves, h):
        self.h = h
        self.nodes = {(0, i): merkle.leaf_hash(e, h) for i, e in enumerate(leaves)}
        level = 0
        while True:
            row = sorted(i for (lv, i) in self.nodes if lv == level)
            pairs = [i for i in row if i % 2 == 1 and (level, i - 1) in self.nodes]
            if not pairs:
                break
            for i in pairs:
                self.nodes[(level + 1, i // 2)] = merkle.node_hash(
                    self.nodes[(level, i - 1)], self.nodes[(level, i)], h
                )
            level += 1

    def root(self, size):
        if size == 0:
            return merkle.empty_root(self.h)
        return merkle.hashes_for([(0, size)], self.nodes, self.h)[0]

    def inclusion(self, index, size):
        return merkle.hashes_for(merkle.inclusion_ranges(index, size), self.nodes, self.h)

    def consistency(self, first, second):
        return merkle.hashes_for(merkle.consistency_ranges(first, second), self.nodes, self.h)


def test_ct_vectors_roots():
    store = Store(CT_LEAVES, sha256)
    assert merkle.empty_root(sha256).hex() == hashlib.sha256(b"").hexdigest()
    for size, expected in enumerate(CT_ROOTS, start=1):
        assert store.root(size).hex() == expected
        assert naive_mth(CT_LEAVES[:size], sha256).hex() == expected
        stream = merkle.StreamingRoot(sha256)
        for e in CT_LEAVES[:size]:
            stream.add(merkle.leaf_hash(e, sha256))
        assert stream.root().hex() == expected


def test_ct_vector_inclusion_leaf0_of_8():
    assert [p.hex() for p in Store(CT_LEAVES, sha256).inclusion(0, 8)] == [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ]


@pytest.mark.parametrize("h", [sha256, sm3_digest], ids=["sha256", "sm3"])
def test_proofs_match_the_naive_recursion_and_verify(h):
    leaves = [f"entry {i}".encode() for i in range(37)]
    store = Store(leaves, h)
    for size in range(1, len(leaves) + 1):
        root = store.root(size)
        assert root == naive_mth(leaves[:size], h)
        for index in range(size):
            proof = store.inclusion(index, size)
            assert proof == naive_path(index, leaves[:size], h)
            leaf = merkle.leaf_hash(leaves[index], h)
            assert merkle.verify_inclusion(index, size, leaf, proof, root, h)
            assert not merkle.verify_inclusion(index, size, h(b"other"), proof, root, h)
            if proof:
                bad = [*proof[:-1], h(b"x")]
                assert not merkle.verify_inclusion(index, size, leaf, bad, root, h)
            if size > 1:
                assert not merkle.verify_inclusion((index + 1) % size, size, leaf, proof, root, h)
        for first in range(0, size + 1):
            proof = store.consistency(first, size)
            if 0 < first < size:
                assert proof == naive_subproof(first, leaves[:size], True, h)
            first_root = store.root(first)
            assert merkle.verify_consistency(first, size, first_root, root, proof, h)
            if 0 < first < size:
                assert not merkle.verify_consistency(first, size, h(b"forged"), root, proof, h)
                assert not merkle.verify_consistency(first, size, first_root, h(b"f"), proof, h)
                assert not merkle.verify_consistency(first, size, first_root, root, [], h)


def test_sm3_leaf_and_node_prefixes():
    assert merkle.leaf_hash(b"a") == sm3_digest(b"\x00a")
    assert merkle.node_hash(b"l", b"r") == sm3_digest(b"\x01lr")
    assert merkle.range_nodes(0, 7) == [(2, 0), (1, 2), (0, 6)]
    assert merkle.range_nodes(1 << 20, (1 << 20) + 5) == [(2, 1 << 18), (0, (1 << 20) + 4)]
