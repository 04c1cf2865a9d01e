#!/usr/bin/env python3
"""Known-answer vectors for the Fiat-Shamir transcript and the Merkle tree.

An independent pure-Python implementation (hashlib) of the encodings documented in
docs/PROOFS.md; it shares no code with src/zkml. Writes tests/vectors/transcript.json and
tests/vectors/merkle.json (64-bit values as decimal strings, bytes as lowercase hex).

Usage: tools/gen-vectors.py [--out-dir DIR]
"""
import argparse
import hashlib
import json
import os
import struct

P = 2**64 - 2**32 + 1
MASK64 = 2**64 - 1


def u64(v):
    return struct.pack("<Q", v)


def h(*parts):
    return hashlib.sha256(b"".join(parts)).digest()


class Transcript:
    def __init__(self, domain: bytes):
        self.state = h(b"EMTR-ini", u64(len(domain)), domain)
        self.n_ops = 0

    def _prefix(self, tag, label: bytes):
        return tag + self.state + u64(self.n_ops) + u64(len(label)) + label

    def absorb_bytes(self, label: bytes, data: bytes):
        self.state = h(self._prefix(b"EMTR-abs", label), u64(len(data)), data)
        self.n_ops += 1

    def absorb_u64(self, label, v):
        self.absorb_bytes(label, u64(v))

    def absorb_ff(self, label, vals):
        assert all(0 <= v < P for v in vals)
        self.absorb_bytes(label, b"".join(u64(v) for v in vals))

    def absorb_ff2(self, label, vals):
        self.absorb_bytes(label, b"".join(u64(a) + u64(b) for a, b in vals))

    def challenge_bytes(self, label: bytes, n: int) -> bytes:
        pre = self._prefix(b"EMTR-out", label)
        out = b"".join(h(pre, u64(i)) for i in range((n + 31) // 32))[:n]
        self.state = h(self._prefix(b"EMTR-nxt", label), u64(n))
        self.n_ops += 1
        return out

    def _u64(self, label):
        return struct.unpack("<Q", self.challenge_bytes(label, 8))[0]

    def challenge_ff(self, label):
        while True:
            w = self._u64(label)
            if w < P:
                return w

    def challenge_ff2(self, label):
        a = self.challenge_ff(label)
        b = self.challenge_ff(label)
        return (a, b)

    def challenge_index(self, label, bound):
        assert bound >= 1
        thresh = (2**64) % bound
        while True:
            w = self._u64(label)
            if w >= thresh:
                return w % bound


def field_seq(n, seed):
    """Deterministic field elements: ((i + seed) * golden) mod 2^64, reduced below p."""
    out = []
    for i in range(n):
        x = ((i + seed) * 0x9E3779B97F4A7C15) & MASK64
        out.append(x - P if x >= P else x)
    return out


def transcript_vectors():
    cases = []

    def run(domain, ops):
        t = Transcript(domain.encode())
        recorded = []
        for op in ops:
            kind, label = op[0], op[1].encode()
            rec = {"op": kind, "label": op[1]}
            if kind == "absorb_bytes":
                t.absorb_bytes(label, op[2])
                rec["data"] = op[2].hex()
            elif kind == "absorb_u64":
                t.absorb_u64(label, op[2])
                rec["value"] = str(op[2])
            elif kind == "absorb_ff":
                t.absorb_ff(label, op[2])
                rec["values"] = [str(v) for v in op[2]]
            elif kind == "absorb_ff2":
                t.absorb_ff2(label, op[2])
                rec["values"] = [[str(a), str(b)] for a, b in op[2]]
            elif kind == "challenge_bytes":
                rec["n"] = op[2]
                rec["out"] = t.challenge_bytes(label, op[2]).hex()
            elif kind == "challenge_ff":
                rec["out"] = str(t.challenge_ff(label))
            elif kind == "challenge_ff2":
                a, b = t.challenge_ff2(label)
                rec["out"] = [str(a), str(b)]
            elif kind == "challenge_ff2_vec":
                rec["n"] = op[2]
                rec["out"] = [[str(a), str(b)] for a, b in (t.challenge_ff2(label) for _ in range(op[2]))]
            elif kind == "challenge_index":
                rec["bound"] = str(op[2])
                rec["out"] = str(t.challenge_index(label, op[2]))
            else:
                raise ValueError(kind)
            rec["state_after"] = t.state.hex()
            recorded.append(rec)
        cases.append({"domain": domain, "ops": recorded, "final_state": t.state.hex(),
                      "final_n_ops": t.n_ops})

    run("", [("challenge_bytes", "", 0), ("challenge_ff", "")])
    run("enclaveml/test/v1", [
        ("absorb_bytes", "empty", b""),
        ("absorb_bytes", "msg", b"hello world"),
        ("absorb_u64", "n", 0),
        ("absorb_u64", "n", MASK64),
        ("absorb_ff", "vals", [0, 1, P - 1, 2**32, 2**32 - 1, P // 2]),
        ("absorb_ff", "none", []),
        ("absorb_ff2", "ext", [(1, 2), (P - 1, 0), (0, P - 1)]),
        ("challenge_bytes", "b1", 1),
        ("challenge_bytes", "b32", 32),
        ("challenge_bytes", "b33", 33),
        ("challenge_bytes", "b100", 100),
        ("challenge_ff", "r"),
        ("challenge_ff2", "r2"),
        ("challenge_ff2_vec", "rv", 5),
        ("challenge_index", "i1", 1),
        ("challenge_index", "i3", 3),
        ("challenge_index", "i1000", 1000),
        ("challenge_index", "ibig", 2**63 + 1),   # rejects about half of all words
        ("challenge_index", "ibig", 2**63 + 12345),
        ("challenge_index", "ibig", 2**63 + 777),
        ("challenge_index", "imax", MASK64),
        ("absorb_bytes", "long", bytes(range(256)) * 3),
        ("absorb_ff", "many", field_seq(100, 7)),
        ("challenge_ff", "final"),
    ])
    # Same data, different label / different split: must give different states.
    run("enclaveml/test/v1", [("absorb_bytes", "msg", b"hello"), ("absorb_bytes", "msg", b" world"),
                              ("challenge_ff", "r")])
    run("enclaveml/test/v2", [("absorb_bytes", "ms", b"ghello world"), ("challenge_ff", "r")])
    return {"description": "Fiat-Shamir transcript known answers (tools/gen-vectors.py)", "cases": cases}


def leaf_hash(vals):
    return h(b"\x00", b"".join(u64(v) for v in vals))


def node_hash(l, r):
    return h(b"\x01", l, r)


def build(leaves):
    n = len(leaves)
    nodes = [None] * (2 * n)
    nodes[n:] = leaves
    for k in range(n - 1, 0, -1):
        nodes[k] = node_hash(nodes[2 * k], nodes[2 * k + 1])
    return nodes


def opening(nodes, n, idx):
    """Sibling hashes not derivable from the opened set, level by level, ascending."""
    out = []
    cur = list(idx)
    base = n
    while base > 1:
        nxt = []
        k = 0
        while k < len(cur):
            i = cur[k]
            if i % 2 == 0 and k + 1 < len(cur) and cur[k + 1] == i + 1:
                k += 2
            else:
                out.append(nodes[base + (i ^ 1)])
                k += 1
            if not nxt or nxt[-1] != i >> 1:
                nxt.append(i >> 1)
        cur = nxt
        base //= 2
    return struct.pack("<I", len(out)) + b"".join(out)


def merkle_vectors():
    trees = []
    for (rows, cols, seed) in [(1, 1, 1), (1, 2, 2), (3, 8, 3), (8, 4, 4), (5, 16, 5), (2, 64, 6), (0, 4, 7)]:
        m = field_seq(rows * cols, seed)
        # leaves are the columns of the row-major rows x cols matrix
        col_leaves = [leaf_hash([m[r * cols + c] for r in range(rows)]) for c in range(cols)]
        nodes = build(col_leaves)
        n = cols
        sets = [[0], [n - 1], list(range(n))]
        if n >= 4:
            sets += [[1, 2], [0, 1, 3], [2, 3]]
        if n >= 16:
            sets += [[0, 5, 6, 7, 15], [3, 12]]
        if n >= 64:
            sets += [[1, 2, 9, 33, 34, 35, 62], [63]]
        openings = []
        for s in sets:
            openings.append({"indices": s, "opening": opening(nodes, n, s).hex()})
        trees.append({"rows": rows, "cols": cols, "seed": seed, "root": nodes[1].hex(),
                      "leaf_hashes": [x.hex() for x in col_leaves], "openings": openings})
    # leaves as rows of a matrix: the transpose view of the same data convention
    rows_trees = []
    for (n_leaves, leaf_len, seed) in [(4, 3, 11), (8, 1, 12), (2, 0, 13)]:
        m = field_seq(n_leaves * leaf_len, seed)
        leaves = [leaf_hash(m[i * leaf_len:(i + 1) * leaf_len]) for i in range(n_leaves)]
        rows_trees.append({"n_leaves": n_leaves, "leaf_len": leaf_len, "seed": seed,
                           "root": build(leaves)[1].hex()})
    return {"description": "Merkle known answers (tools/gen-vectors.py); matrix element i = "
            "((i + seed) * 0x9E3779B97F4A7C15 mod 2^64) reduced below p",
            "column_trees": trees, "row_trees": rows_trees}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--out-dir", default=os.path.join(root, "tests", "vectors"))
    a = ap.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    for name, data in (("transcript.json", transcript_vectors()), ("merkle.json", merkle_vectors())):
        with open(os.path.join(a.out_dir, name), "w") as f:
            json.dump(data, f, indent=1)
            f.write("\n")
        print("wrote", os.path.join(a.out_dir, name))


if __name__ == "__main__":
    main()
