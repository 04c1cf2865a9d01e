#!/usr/bin/env python3
"""Known-answer vectors for the Fiat-Shamir transcript, the Merkle tree and the polynomial commitment.

An independent pure-Python implementation (hashlib, plain integers mod p) of the encodings
documented in docs/PROOFS.md; it shares no code with src/zkml. Writes tests/vectors/transcript.json,
tests/vectors/merkle.json and tests/vectors/pcs.json (64-bit values as decimal strings, bytes as
lowercase hex).

Usage: tools/gen-vectors.py [--out-dir DIR]
"""
import argparse
import functools
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

    def challenge_ff2_vec(self, label, n):
        # one squeeze of 16n bytes; the whole vector again if any word is >= p; n = 0: no step
        if n == 0:
            return []
        while True:
            w = struct.unpack("<%dQ" % (2 * n), self.challenge_bytes(label, 16 * n))
            if all(x < P for x in w):
                return [(w[2 * i], w[2 * i + 1]) for i in range(n)]

    def challenge_ff2(self, label):
        return self.challenge_ff2_vec(label, 1)[0]

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
                rec["out"] = [[str(a), str(b)] for a, b in t.challenge_ff2_vec(label, op[2])]
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
        ("challenge_ff2_vec", "rv0", 0),
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


# ---- polynomial commitment (pcs.h, docs/PROOFS.md "Polynomial commitment") ------------------
# Written from the definitions: each stacked row is the coefficient vector of a polynomial f,
# its codeword is f evaluated at w^j (j = 0..N-1, w of order N = 4 * message length, w = 7^((p-1)/N)),
# computed here by a textbook recursive FFT; the Merkle leaves are the codeword columns.
# Rate 2^-rate_bits: 1/4 (the default, 160 column queries) or 1/2 (262 queries).

QUERIES = {2: 160, 1: 262}


def f2_add(x, y):
    return ((x[0] + y[0]) % P, (x[1] + y[1]) % P)


def f2_sub(x, y):
    return ((x[0] - y[0]) % P, (x[1] - y[1]) % P)


def f2_mul(x, y):
    """F_p[X]/(X^2 - 7)."""
    return ((x[0] * y[0] + 7 * x[1] * y[1]) % P, (x[0] * y[1] + x[1] * y[0]) % P)


def f2_mul_base(x, c):
    return (x[0] * c % P, x[1] * c % P)


def eq_table(r, scale=(1, 0)):
    """t[i] = scale * prod_j (r_j if bit j of i else 1 - r_j)."""
    t = [scale]
    for j, rj in enumerate(r):  # bit j is the new high bit of the index
        one_minus = f2_sub((1, 0), rj)
        t = [f2_mul(v, one_minus) for v in t] + [f2_mul(v, rj) for v in t]
    return t


def ml_eval(vals, n, r):
    """Multilinear extension (x_j = bit j of the index) of vals (zero-padded to 2^n) at r."""
    acc = (0, 0)
    for i, e in enumerate(eq_table(r)):
        if i < len(vals) and vals[i]:
            acc = f2_add(acc, f2_mul_base(e, vals[i]))
    return acc


def fft_eval(coeffs, w):
    """[f(w^j) for j < len(coeffs)], f = sum coeffs[i] X^i, len a power of two, w of that order."""
    n = len(coeffs)
    if n == 1:
        return [coeffs[0] % P]
    even = fft_eval(coeffs[0::2], w * w % P)
    odd = fft_eval(coeffs[1::2], w * w % P)
    out = [0] * n
    x = 1
    for j in range(n // 2):
        t = x * odd[j] % P
        out[j] = (even[j] + t) % P
        out[j + n // 2] = (even[j] - t) % P
        x = x * w % P
    return out


def rs_encode(msg, rate_bits):
    """Rate-2^-rate_bits Reed-Solomon codeword of the polynomial with coefficients msg."""
    n_cw = len(msg) << rate_bits
    w = pow(7, (P - 1) // n_cw, P)
    assert pow(w, n_cw // 2, P) == P - 1  # primitive
    return fft_eval(list(msg) + [0] * (n_cw - len(msg)), w)


def rs_encode_sys(msg, rate_bits, short=0):
    """Systematic codeword (ntt.h ntt_rs_encode_sys): msg are f's values on <w_n>; the codeword is
    msg followed by blocks b = 1 .. 2^rate_bits - 1 of f(w_N^b * w_n^c), c < n; short 1 (rate 2/3):
    followed by f(w_2n^(1 + 4c)), c < n/2; short 2 (rate 4/5): by f(w_2n^(1 + 8c)), c < n/4 (by
    Horner, independently of the C folding)."""
    n = len(msg)
    if short:
        wn = pow(7, (P - 1) // n, P)
        coeffs = [v * pow(n, P - 2, P) % P for v in fft_eval([m % P for m in msg], pow(wn, P - 2, P))]
        w2n = pow(7, (P - 1) // (2 * n), P)
        horner = lambda x: functools.reduce(lambda acc, c: (acc * x + c) % P, reversed(coeffs), 0)
        return [m % P for m in msg] + [horner(pow(w2n, 1 + (4 << (short - 1)) * c, P)) for c in range(n >> short)]
    N = n << rate_bits
    wN = pow(7, (P - 1) // N, P)
    wn = pow(wN, 1 << rate_bits, P)
    inv_n = pow(n, P - 2, P)
    coeffs = [v * inv_n % P for v in fft_eval([m % P for m in msg], pow(wn, P - 2, P))]
    out = [m % P for m in msg]
    for b in range(1, 1 << rate_bits):
        eb = pow(wN, b, P)
        out += fft_eval([c * pow(eb, k, P) % P for k, c in enumerate(coeffs)], wn)
    return out


# pcs.h symbol types of systematic layouts: (bytes, lo, hi)
SYMS = {1: (1, 0, 255), 2: (1, -128, 127), 3: (2, 0, 65535), 4: (2, -32768, 32767), 5: (4, -2**31, 2**31 - 1)}


def int_leaf_hash(vals, widths):
    return h(b"\x02", b"".join((v % (1 << (8 * w))).to_bytes(w, "little") for v, w in zip(vals, widths)))


class BlindRng:
    """SHA-256 counter mode: block i = H("EMPCSBLD" || seed || u64le(i)), four u64le words each,
    words >= p rejected."""

    def __init__(self, seed):
        self.seed, self.ctr, self.words = seed, 0, []

    def next(self):
        while True:
            if not self.words:
                blk = h(b"EMPCSBLD", self.seed, u64(self.ctr))
                self.ctr += 1
                self.words = [struct.unpack("<Q", blk[8 * k:8 * k + 8])[0] for k in range(4)]
            v = self.words.pop(0)
            if v < P:
                return v


def ceil_log2(x):
    k = 0
    while (1 << k) < x:
        k += 1
    return k


class PcsCommitment:
    def __init__(self, n_vars, polys, log_cols=0, hiding_groups=0, seed=None, rate_bits=2, trim=False,
                 sys_runs=None, rate23=False, rate45=False, tested=False):
        if log_cols == 0:  # default: balances column openings against combination rows
            log_cols = min((ceil_log2(sum(1 << n for n in n_vars)) + 6) // 2, min(n_vars))
        self.n_vars, self.log_cols, self.rate_bits = list(n_vars), log_cols, rate_bits
        self.hiding, self.n_masks = (1, hiding_groups) if hiding_groups else (0, 0)
        C = 1 << log_cols
        self.C = C
        self.msg_len = 2 * C if self.hiding else C
        # trim (pcs_layout_set_len(p, len(polys[p]))): only the rows holding evaluations are
        # committed, the rest of the polynomial is zero by definition
        self.rows = [max(1, (len(v) + C - 1) // C) if trim else 1 << (n - log_cols)
                     for n, v in zip(n_vars, polys)]
        self.row_off, rows = [], 0
        for r in self.rows:
            self.row_off.append(rows)
            rows += r
        self.n_rows = rows
        self.total_rows = rows + (1 + self.n_masks if self.hiding else 0)
        # message matrix: poly p's evaluation e sits in row row_off[p] + e // C, column e % C
        self.m = [[0] * self.msg_len for _ in range(self.total_rows)]
        for p, vals in enumerate(polys):
            for e, v in enumerate(vals):
                self.m[self.row_off[p] + e // C][e % C] = v
        if self.hiding:
            rng = BlindRng(seed)
            for r in range(self.total_rows):
                for c in range(C if r < self.n_rows else 0, self.msg_len):
                    self.m[r][c] = rng.next()
        self.sys_runs, self.rate23, self.rate45, self.tested = sys_runs or [], rate23, rate45, tested
        self.short = 1 if rate23 else 2 if rate45 else 0  # the parity is C >> short symbols
        self.N = self.msg_len + (self.msg_len >> self.short) if self.short else self.msg_len << rate_bits
        if sys_runs:  # systematic: message columns hashed as integers in their rows' widths
            self.widths = [SYMS[next(t for e, t in sys_runs if r < e)][0] for r in range(self.n_rows)]
            self.enc = [rs_encode_sys(row, rate_bits, self.short) for row in self.m]
            leaves = [int_leaf_hash([row[j] for row in self.m], self.widths) if j < C else
                      leaf_hash([row[j] for row in self.enc]) for j in range(self.N)]
            leaves += [bytes(32)] * ((1 << ceil_log2(self.N)) - self.N)  # rates 2/3, 4/5: zero padding leaves
            self.m = [[v % P for v in row] for row in self.m]
        else:
            self.enc = [rs_encode(row, rate_bits) for row in self.m]
            leaves = [leaf_hash([row[j] for row in self.enc]) for j in range(self.N)]
        self.nodes = build(leaves)
        self.root = self.nodes[1]

    def combine(self, weights):
        out = [(0, 0)] * self.msg_len
        for wi, row in zip(weights, self.m):
            if wi != (0, 0):
                out = [f2_add(o, f2_mul_base(wi, v)) for o, v in zip(out, row)]
        return out

    def prove_proximity(self, tr):
        """pcs_prove_proximity: the proximity row and 262 columns, no claims."""
        tr.absorb_u64(b"pcs/proximity", 262)
        return self.open([], tr, proximity=True)

    def open(self, claims, tr, proximity=False):
        """claims: (poly, point, value). Returns the proof bytes (pcs.h wire format). A tested
        layout's openings send no proximity row and open 109 columns; proximity: the proximity
        proof instead (pcs_prove_proximity, after its marker)."""
        lc, R = self.log_cols, self.n_rows
        tr.absorb_bytes(b"pcs/root", self.root)
        tr.absorb_u64(b"pcs/layout", lc)
        tr.absorb_u64(b"pcs/layout", len(self.n_vars))
        tr.absorb_u64(b"pcs/layout", self.n_masks)
        tr.absorb_bytes(b"pcs/layout", bytes(self.n_vars))
        tr.absorb_u64(b"pcs/layout", self.rate_bits)
        for r in self.rows:
            tr.absorb_u64(b"pcs/layout", r)
        if self.sys_runs:
            tr.absorb_u64(b"pcs/sys", self.short)
            tr.absorb_u64(b"pcs/sys", len(self.sys_runs))
            for e, t in self.sys_runs:
                tr.absorb_u64(b"pcs/sys", e)
                tr.absorb_u64(b"pcs/sys", t)
        if self.tested:
            tr.absorb_u64(b"pcs/tested", 1)
        tr.absorb_u64(b"pcs/nclaims", len(claims))
        for p, pt, v in claims:
            tr.absorb_u64(b"pcs/claim", p)
            tr.absorb_ff2(b"pcs/claim", pt)
            tr.absorb_ff2(b"pcs/claim", [v])
        # claims sharing their column sub-point form one group, numbered by first appearance
        col_points, group = [], []
        for p, pt, v in claims:
            cp = tuple(pt[:lc])
            if cp not in col_points:
                col_points.append(cp)
            group.append(col_points.index(cp))
        ng = len(col_points)
        proof = b""
        enc2 = lambda vs: b"".join(u64(a) + u64(b) for a, b in vs)

        def mask(i):  # hiding: weights of the 1 + n_masks mask rows (row i of them has weight 1)
            return [(1, 0) if k == i else (0, 0) for k in range(1 + self.n_masks)]

        if self.hiding:
            y = []
            for g, cp in enumerate(col_points):
                eqc = eq_table(list(cp))
                row = self.m[R + 1 + g][:self.C]
                acc = (0, 0)
                for e, v in zip(eqc, row):
                    acc = f2_add(acc, f2_mul_base(e, v))
                y.append(acc)
            tr.absorb_ff2(b"pcs/y", y)
            proof += enc2(y)
        if proximity or not self.tested:
            gamma = tr.challenge_ff2_vec(b"pcs/gamma", R)
            wts = gamma + (mask(0) if self.hiding else [])
            w = self.combine(wts)
            tr.absorb_ff2(b"pcs/w", w)
            proof += enc2(w)
        if not proximity:
            rho = tr.challenge_ff2_vec(b"pcs/rho", len(claims))
        for g in range(ng):
            a = [(0, 0)] * R
            for k, (p, pt, v) in enumerate(claims):
                if group[k] != g:
                    continue
                for i, e in enumerate(eq_table(pt[lc:], rho[k])[:self.rows[p]]):
                    a[self.row_off[p] + i] = f2_add(a[self.row_off[p] + i], e)
            if self.hiding:
                a += mask(1 + g)
            u = self.combine(a)
            tr.absorb_ff2(b"pcs/u", u)
            proof += enc2(u)
            # the verifier's evaluation check holds for honest claims
            want = (0, 0)
            for k, (p, pt, v) in enumerate(claims):
                if group[k] == g:
                    want = f2_add(want, f2_mul(rho[k], v))
            if self.hiding:
                want = f2_add(want, y[g])
            got = (0, 0)
            for e, x in zip(eq_table(list(col_points[g])), u[:self.C]):
                got = f2_add(got, f2_mul(e, x))
            assert got == want
        t = 262 if proximity else 109 if self.tested else {1: 413, 2: 715}[self.short] if self.short else \
            QUERIES[self.rate_bits]
        if self.N <= 2 * t:
            idx = list(range(self.N))
        else:
            idx = []
            while len(idx) < t:
                j = tr.challenge_index(b"pcs/query", self.N)
                if j not in idx:
                    idx.append(j)
            idx.sort()
        for j in idx:
            if self.sys_runs and j < self.C:
                proof += b"".join(((row[j] if row[j] < P // 2 else row[j] - P) % (1 << (8 * w))).to_bytes(w, "little")
                                  for row, w in zip(self.m, self.widths))
            else:
                proof += b"".join(u64(row[j]) for row in self.enc)
        proof += opening(self.nodes, 1 << ceil_log2(self.N), idx)
        return proof


def ff2_seq(n, seed):
    """n extension elements: pairs of consecutive field_seq(2n, seed) values."""
    s = field_seq(2 * n, seed)
    return [(s[2 * j], s[2 * j + 1]) for j in range(n)]


PCS_DOMAIN = "enclaveml/vectors/pcs"


def pcs_vectors():
    # (name, n_vars, lens, seeds, log_cols argument, hiding groups, claims[, rate_bits, trim])
    # a claim is (poly, point seed, k): coordinates 0..k-1 copied from the previous claim's point
    # (to share its column sub-point), the rest ff2_seq(n_vars, point seed).
    cases = [
        ("one poly 2^6, C = 8 (all columns opened)", [6], [64], [21], 3, 0, [(0, 101, 0)]),
        ("one poly 2^10, default log_cols, sampled columns, two column points", [10], [1024], [22], 0, 0,
         [(0, 102, 0), (0, 103, 0)]),
        ("three polys stacked (2^4, 2^6 padded from 41, 2^5), C = 4", [4, 6, 5], [16, 41, 32], [23, 24, 25], 2,
         0, [(0, 104, 0), (1, 105, 2), (2, 106, 0), (1, 107, 0)]),
        ("several 2^10/2^8 polys stacked, C = 16", [10, 8, 8], [1024, 256, 200], [26, 27, 28], 4, 0,
         [(0, 108, 0), (2, 109, 4)]),
        ("constant polynomial, C = 1", [0], [1], [29], 0, 0, [(0, 110, 0)]),
        ("hiding, 2^8 + 2^9 (padded from 300), two mask groups", [8, 9], [256, 300], [30, 31], 8, 2,
         [(0, 111, 0), (1, 112, 0)]),
        ("rate 1/2, one poly 2^13 with 2500 values, trimmed rows, sampled columns", [13], [2500], [32], 9, 0,
         [(0, 113, 0), (0, 114, 0)], 1, True),
        ("rate 1/2, trimmed 2^9 (300 values) stacked on 2^10, all columns opened", [9, 10], [300, 1024], [33, 34],
         6, 0, [(0, 115, 0), (1, 116, 6)], 1, True),
        ("systematic rate 1/2, 2^12 trimmed to 3000 integers in I8/U8/U16/I16/I32 rows, sampled columns",
         [12], [3000], [35], 5, 0, [(0, 117, 0), (0, 118, 3)], 1, True,
         [(20, 2), (40, 1), (60, 3), (80, 4), (94, 5)]),
        ("systematic rate 1/4, 2^8 integers, one U8 run, all columns opened", [8], [256], [36], 4, 0,
         [(0, 119, 0)], 2, True, [(16, 1)]),
        ("systematic rate 2/3, 2^13 trimmed to 5000 integers in U8/I8/I32 rows, sampled columns", [13], [5000],
         [37], 10, 0, [(0, 120, 0), (0, 121, 0)], 1, True, [(2, 1), (4, 2), (5, 5)], True),
        ("systematic rate 2/3, 2^7 integers, one I16 run, all columns opened", [7], [128], [38], 4, 0,
         [(0, 122, 0)], 1, True, [(8, 4)], True),
        ("systematic rate 4/5, 2^14 trimmed to 9000 integers in U8/I8/U16 rows, sampled columns", [14], [9000],
         [39], 11, 0, [(0, 123, 0), (0, 124, 0)], 1, True, [(2, 1), (4, 2), (5, 3)], False, True),
        ("systematic rate 4/5, 2^8 integers, one I8 run, all columns opened", [8], [256], [40], 5, 0,
         [(0, 125, 0)], 1, True, [(8, 2)], False, True),
        ("tested rate 1/4, one poly 2^14 (the model layout): proximity proof and an opening of two claims",
         [14], [1 << 14], [41], 0, 0, [(0, 126, 0), (0, 127, 0)], 2, False, None, False, False, True),
        ("tested rate 1/4, 2^10 trimmed to 700 values, all columns opened", [10], [700], [42], 5, 0,
         [(0, 128, 0)], 2, True, None, False, False, True),
    ]
    out = []
    blind_seed = bytes(range(32))
    for name, n_vars, lens, seeds, lc_arg, groups, claims, *opt in cases:
        rate_bits, trim, sys_runs, rate23, rate45, tested = (
            (list(opt) + [None, None, None, False, False, False][len(opt):]) if opt else (2, False, None, False, False, False))
        polys = [field_seq(n, s) for n, s in zip(lens, seeds)]
        if sys_runs:  # value e: its row's type range, lo + field_seq value mod the range size
            C = 1 << lc_arg
            rt = lambda e: SYMS[next(t for end, t in sys_runs if e // C < end)]
            polys = [[rt(e)[1] + v % (rt(e)[2] - rt(e)[1] + 1) for e, v in enumerate(polys[0])]]
        com = PcsCommitment(n_vars, polys, lc_arg, groups, blind_seed if groups else None, rate_bits, trim,
                            sys_runs, rate23, rate45, tested)
        polys = [[v % P for v in poly] for poly in polys]
        cl, prev = [], None
        for p, ps, share in claims:
            pt = ff2_seq(n_vars[p], ps)
            if share:
                pt[:share] = prev[:share]
            prev = pt
            cl.append((p, pt, ml_eval(polys[p], n_vars[p], pt)))
        tr = Transcript(PCS_DOMAIN.encode())
        prox = com.prove_proximity(tr) if tested else b""  # then the opening on the same transcript
        proof = com.open(cl, tr)
        case = {
            "name": name, "n_vars": n_vars, "lens": lens, "seeds": seeds, "log_cols_arg": lc_arg,
            "log_cols": com.log_cols, "n_rows": com.n_rows, "hiding_groups": groups,
            "rate_bits": rate_bits, "trim": trim,
            **({"sys_runs": [[e, t] for e, t in sys_runs], "rate23": rate23} if sys_runs else {}),
            **({"rate45": True} if rate45 else {}),
            **({"tested": True, "proximity": {"proof_len": len(prox), "proof_sha256": hashlib.sha256(prox).hexdigest(),
                                               "proof_head": prox[:256].hex()}} if tested else {}),
            "row0_codeword_head": [str(v) for v in com.enc[0][:16]],
            "root": com.root.hex(),
            "opening": {
                "domain": PCS_DOMAIN,
                "claims": [{"poly": p, "point": [[str(a), str(b)] for a, b in pt],
                            "value": [str(v[0]), str(v[1])]} for p, pt, v in cl],
                "proof_len": len(proof), "proof_sha256": hashlib.sha256(proof).hexdigest(),
                "proof_head": proof[:256].hex(),
            },
        }
        if groups:
            case["blind_seed"] = blind_seed.hex()
        out.append(case)
    return {"description": "Polynomial commitment known answers (tools/gen-vectors.py): poly i has lens[i] "
            "evaluations field_seq(lens[i], seeds[i]) (element e = ((e + seed) * 0x9E3779B97F4A7C15 mod 2^64) "
            "reduced below p), zero-padded to 2^n_vars[i]; layout pcs_layout_init(n_vars, log_cols_arg) "
            "(+ pcs_layout_set_len(p, lens[p]) for every p when trim, pcs_layout_set_rate(rate_bits), "
            "pcs_layout_set_hiding(hiding_groups) and pcs_commit_hiding(blind_seed) when hiding_groups > 0, "
            "pcs_layout_set_systematic(sys_runs: [row end, pcs_sym]) when present (then "
            "pcs_layout_set_rate23 when rate23, pcs_layout_set_rate45 when rate45), pcs_layout_set_tested "
            "when tested, the values then integers: "
            "lo + (field_seq value mod (hi - lo + 1)) for the type [lo, hi] of the value's row); "
            "row0_codeword_head: the first 16 symbols of the Reed-Solomon codeword of stacked row 0 (systematic: "
            "the row itself, then its parity); "
            "opening: pcs_open of the claims on a transcript tr_init(domain), proof summarised by length, "
            "SHA-256 and its first 256 bytes; tested cases first run pcs_prove_proximity on that transcript "
            "(summarised as proximity) and then the opening on the same transcript",
            "cases": out}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--out-dir", default=os.path.join(root, "tests", "vectors"))
    a = ap.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    for name, data in (("transcript.json", transcript_vectors()), ("merkle.json", merkle_vectors()),
                       ("pcs.json", pcs_vectors())):
        with open(os.path.join(a.out_dir, name), "w") as f:
            json.dump(data, f, indent=1)
            f.write("\n")
        print("wrote", os.path.join(a.out_dir, name))


if __name__ == "__main__":
    main()
