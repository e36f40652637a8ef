#!/usr/bin/env python3
"""Independent generator of the protocol test vectors (tests/vectors/*.json).

Written from the layouts in docs/protocol.md (v1, with the v2 witness budget and the v3
segments: trace version 2, cut leaves in the batch tree), NOT from the Rust code: the point is
that two implementations agree byte for byte. It also carries a small strict decoder of its own
and checks that every `invalid` vector is rejected by it with the stated error kind.

Requires: pip install pycryptodome      Run: python3 tests/vectors/gen_vectors.py
"""
import json
import os
import struct

from Crypto.Hash import keccak

HERE = os.path.dirname(os.path.abspath(__file__))
U16_MAX = 2**16 - 1
U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1
TRACE_VERSION = 2
# Offset of the first block's length prefix in a trace: version 1, chain_id 8, parent_hash 32,
# segment 2 + start_tx 4 + gas_before 8 + end_tx 4, block_count 2.
TRACE_BLOCKS_OFFSET = 61
# The L2 execution one EXECUTE call pays for per block: a segment's gas (protocol v3).
SEGMENT_GAS = 7_000_000


def k256(data: bytes) -> bytes:
    h = keccak.new(digest_bits=256)
    h.update(data)
    return h.digest()


def hx(b: bytes) -> str:
    return "0x" + b.hex()


def b32(tag: str) -> bytes:
    """A deterministic 32-byte value named by `tag`."""
    return k256(tag.encode())


def u16(n): return struct.pack(">H", n)
def u32(n): return struct.pack(">I", n)
def u64(n): return struct.pack(">Q", n)
def word(n): return n.to_bytes(32, "big")
def prefixed(b): return u32(len(b)) + b


# ---------------------------------------------------------------- encoders (from the spec)

def enc_block(b: dict) -> bytes:
    out = u64(b["number"]) + u64(b["timestamp"]) + b["fee_recipient"] + b["prev_randao"]
    out += u64(b["gas_limit"]) + u64(b["base_fee"]) + b["l1_anchor"] + u32(len(b["transactions"]))
    return out + b"".join(prefixed(tx) for tx in b["transactions"])


def enc_header(h: dict) -> bytes:
    return h["parent_hash"] + word(h["number"]) + h["input_commitment"] + h["state_root"] + word(h["gas_used"])


def block_hash(h: dict) -> bytes:
    return k256(enc_header(h))


def enc_checkpoint(c: dict) -> bytes:
    return c["input_commitment"] + c["post_state_root"] + word(c["gas_used"])


def enc_list(items) -> bytes:
    return u32(len(items)) + b"".join(prefixed(i) for i in items)


def enc_segment(s: dict) -> bytes:
    return u16(s["index"]) + u32(s["start_tx"]) + u64(s["gas_before"]) + u32(s["end_tx"])


def enc_trace(t: dict, sort=True) -> bytes:
    w = t["witness"]
    nodes = sorted(set(w["nodes"]), key=k256) if sort else w["nodes"]
    codes = sorted(set(w["codes"]), key=k256) if sort else w["codes"]
    out = bytes([t.get("version", TRACE_VERSION)]) + u64(t["chain_id"]) + t["parent_hash"]
    out += enc_segment(t["segment"]) + u16(len(t["blocks"]))
    out += b"".join(prefixed(enc_block(b)) for b in t["blocks"])
    out += enc_list(nodes) + enc_list(codes)
    return out + u16(len(w["headers"])) + b"".join(enc_header(h) for h in w["headers"])


def block_ranges(t: dict):
    pos, out = TRACE_BLOCKS_OFFSET, []
    for b in t["blocks"]:
        n = len(enc_block(b))
        out.append([pos + 4, pos + 4 + n])
        pos += 4 + n
    return out


def gas_cost(trace: bytes, blocks) -> int:
    # Protocol v2: 5,000 gas per framed transaction (decoding, hashing, sender recovery).
    # Protocol v3: a block's L2 execution is charged for one segment at most.
    return (100_000 + sum(min(b["gas_limit"], SEGMENT_GAS) for b in blocks)
            + 5_000 * sum(len(b["transactions"]) for b in blocks) + 4 * len(trace))


def enc_execute(c: dict) -> bytes:
    t = c["trace"]
    pad = (-len(t)) % 32
    return c["pre_state_root"] + c["post_state_root"] + word(0x80) + word(c["gas_used"]) + word(len(t)) + t + b"\0" * pad


# ---------------------------------------------------------------- a strict decoder (self-check)

class Bad(Exception):
    def __init__(self, kind):
        super().__init__(kind)
        self.kind = kind


class Cur:
    def __init__(self, data):
        self.d, self.p = data, 0

    def take(self, n):
        if self.p + n > len(self.d):
            raise Bad("truncated")
        self.p += n
        return self.d[self.p - n:self.p]

    def int(self, n): return int.from_bytes(self.take(n), "big")
    def item(self): return self.take(self.int(4))

    def end(self):
        if self.p != len(self.d):
            raise Bad("trailing_bytes")


def dec_block(data: bytes):
    c = Cur(data)
    c.take(116)  # number..l1_anchor: fixed fields, any value is valid
    txs = [c.item() for _ in range(c.int(4))]
    c.end()
    return txs


def dec_header(data: bytes) -> dict:
    if len(data) != 160:
        raise Bad("bad_length")
    f = [data[i:i + 32] for i in range(0, 160, 32)]
    for w in (f[1], f[4]):
        if int.from_bytes(w, "big") > U64_MAX:
            raise Bad("integer_overflow")
    return {"parent_hash": f[0], "number": int.from_bytes(f[1], "big"), "input_commitment": f[2],
            "state_root": f[3], "gas_used": int.from_bytes(f[4], "big")}


def dec_checkpoint(data: bytes):
    if len(data) != 96:
        raise Bad("bad_length")
    if int.from_bytes(data[64:96], "big") > U64_MAX:
        raise Bad("integer_overflow")


def dec_sorted(c: Cur, no_empty: bool):
    prev, out = None, []
    for _ in range(c.int(4)):
        item = c.item()
        if no_empty and not item:
            raise Bad("empty_code")
        h = k256(item)
        if prev is not None and h == prev:
            raise Bad("duplicate")
        if prev is not None and h < prev:
            raise Bad("unsorted")
        prev = h
        out.append(item)
    return out


def check_chain(headers, parent_hash):
    if not headers:
        raise Bad("no_headers")
    for a, b in zip(headers, headers[1:]):
        if b["parent_hash"] != block_hash(a):
            raise Bad("header_parent_mismatch")
        if b["number"] != a["number"] + 1:
            raise Bad("header_number_gap")
    if block_hash(headers[-1]) != parent_hash:
        raise Bad("parent_hash_mismatch")


def dec_trace(data: bytes):
    c = Cur(data)
    if c.int(1) != TRACE_VERSION:
        raise Bad("unsupported_version")
    c.take(8)
    parent = c.take(32)
    c.int(2), c.int(4), c.int(8), c.int(4)  # segment, start_tx, gas_before, end_tx: any value
    n = c.int(2)
    if n == 0:
        raise Bad("no_blocks")
    for _ in range(n):
        dec_block(c.item())
    dec_sorted(c, False)
    dec_sorted(c, True)
    count = c.int(2)
    if count > 256:
        raise Bad("too_large")
    headers = [dec_header(c.take(160)) for _ in range(count)]
    c.end()
    check_chain(headers, parent)


def word_u64(c: Cur) -> int:
    w = c.int(32)
    if w > U64_MAX:
        raise Bad("integer_overflow")
    return w


def dec_execute(data: bytes):
    c = Cur(data)
    c.take(64)
    if c.take(32) != word(0x80):
        raise Bad("abi_offset")
    word_u64(c)
    n = word_u64(c)
    c.take(n)
    if any(c.take((-n) % 32)):
        raise Bad("abi_padding")
    c.end()


# ---------------------------------------------------------------- vector values

def jsonable(v):
    if isinstance(v, (bytes, bytearray)):
        return hx(bytes(v))
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items() if k != "version"}
    if isinstance(v, list):
        return [jsonable(x) for x in v]
    return v


def rlp_str(b: bytes) -> bytes:
    if len(b) == 1 and b[0] < 0x80:
        return b
    assert len(b) < 56
    return bytes([0x80 + len(b)]) + b


def rlp_list(items) -> bytes:
    body = b"".join(rlp_str(i) for i in items)
    assert len(body) < 56
    return bytes([0xc0 + len(body)]) + body


def block(number, txs, gas_limit=30_000_000):
    return {"number": number, "timestamp": 1_700_000_000 + 12 * number,
            "fee_recipient": bytes.fromhex("c0ffee254729296a45a3885639ac7e10f9d54979"),
            "prev_randao": b32(f"randao {number}"), "gas_limit": gas_limit, "base_fee": 7,
            "l1_anchor": b32(f"l1 block {number}"), "transactions": txs}


TX_A = bytes.fromhex("02ef0180808405f5e1008252089400000000000000000000000000000000000000aa8080c0")
TX_B = bytes.fromhex("f8") + bytes(range(1, 40))  # opaque: need not decode as a transaction
GENESIS = {"parent_hash": bytes(32), "number": 0, "input_commitment": bytes(32),
           "state_root": b32("genesis state"), "gas_used": 0}


def small_trace():
    h1 = {"parent_hash": block_hash(GENESIS), "number": 1, "input_commitment": b32("inputs 1"),
          "state_root": b32("state 1"), "gas_used": 21_000}
    nodes = [rlp_list([b"\x20" + b32("leaf a")[:8], b"\x01"]), rlp_list([b"\x31", b"\x02\x03"]),
             rlp_list([b"\x00" * 4, b32("child")])]
    codes = [bytes.fromhex("6000600055"), bytes.fromhex("60016000f3")]
    return {"chain_id": 4242, "parent_hash": block_hash(h1),
            "segment": segment(0, 0, 0, 1),
            "blocks": [block(2, [TX_A]), block(3, [TX_B, b""], gas_limit=1_000_000)],
            "witness": {"nodes": nodes, "codes": codes, "headers": [GENESIS, h1]}}


def segment(index, start_tx, gas_before, end_tx):
    """A trace's segment fields, which the codec carries without checking them: the segment's
    position in its block, its first transaction, the gas its block's earlier segments used, and
    the first transaction it does not consider."""
    return {"index": index, "start_tx": start_tx, "gas_before": gas_before, "end_tx": end_tx}


def variant(base, **changes):
    t = {**base, "witness": dict(base["witness"])}
    for k, v in changes.items():
        if k in ("nodes", "codes", "headers"):
            t["witness"][k] = v
        else:
            t[k] = v
    return t


def header_chain(n):
    chain = [GENESIS]
    for i in range(1, n):
        prev = chain[-1]
        chain.append({"parent_hash": block_hash(prev), "number": i, "input_commitment": b32(f"in {i}"),
                      "state_root": b32(f"st {i}"), "gas_used": i})
    return chain


# ---------------------------------------------------------------- vector files

def block_inputs_vectors():
    valid = []
    for name, b in [("empty_tx_list", block(1, [])), ("three_txs_one_empty", block(7, [TX_A, b"", TX_B]))]:
        enc = enc_block(b)
        valid.append({"name": name, "value": jsonable(b), "encoded": hx(enc), "commitment": hx(k256(enc))})
    three = enc_block(block(7, [TX_A, b"", TX_B]))
    invalid = [
        {"name": "truncated_fixed_part", "encoded": hx(three[:100]), "error": "truncated"},
        {"name": "tx_length_past_end", "encoded": hx(three[:-1]), "error": "truncated"},
        {"name": "trailing_byte", "encoded": hx(three + b"\0"), "error": "trailing_bytes"},
        {"name": "tx_count_too_high", "encoded": hx(enc_block(block(1, []))[:116] + u32(1)), "error": "truncated"},
    ]
    return {"valid": valid, "invalid": invalid}


def header_vectors():
    h = {"parent_hash": b32("parent"), "number": 123_456, "input_commitment": b32("inputs"),
         "state_root": b32("state"), "gas_used": 9_876_543}
    valid = [{"name": n, "value": jsonable(v), "encoded": hx(enc_header(v)), "block_hash": hx(block_hash(v))}
             for n, v in [("genesis", GENESIS), ("non_trivial", h), ("max_ints", {**h, "number": U64_MAX, "gas_used": U64_MAX})]]
    enc = enc_header(h)
    invalid = [
        {"name": "short", "encoded": hx(enc[:159]), "error": "bad_length"},
        {"name": "long", "encoded": hx(enc + b"\0"), "error": "bad_length"},
        {"name": "number_over_u64", "encoded": hx(enc[:55] + b"\x01" + enc[56:]), "error": "integer_overflow"},
        {"name": "gas_used_over_u64", "encoded": hx(enc[:128] + b"\x80" + enc[129:]), "error": "integer_overflow"},
    ]
    return {"valid": valid, "invalid": invalid}


def checkpoint_vectors():
    c = {"input_commitment": b32("inputs"), "post_state_root": b32("state"), "gas_used": 21_000}
    enc = enc_checkpoint(c)
    return {"valid": [{"name": "simple", "value": jsonable(c), "encoded": hx(enc), "hash": hx(k256(enc))}],
            "invalid": [{"name": "short", "encoded": hx(enc[:95]), "error": "bad_length"},
                        {"name": "gas_used_over_u64", "encoded": hx(enc[:64] + b"\x01" + enc[65:]),
                         "error": "integer_overflow"}]}


def trace_valid(t, name):
    enc = enc_trace(t)
    canon = variant(t, nodes=sorted(set(t["witness"]["nodes"]), key=k256),
                    codes=sorted(set(t["witness"]["codes"]), key=k256))
    return {"name": name, "value": jsonable(canon), "encoded": hx(enc), "hash": hx(k256(enc)),
            "block_input_ranges": block_ranges(t), "execute_gas_cost": gas_cost(enc, t["blocks"])}


def trace_invalid():
    base = small_trace()
    nodes = sorted(base["witness"]["nodes"], key=k256)
    codes = sorted(base["witness"]["codes"], key=k256)
    t = variant(base, nodes=nodes, codes=codes)  # canonical, so each case breaks one rule only
    enc = enc_trace(t)
    h0, h1 = t["witness"]["headers"]
    bad_parent = {**h1, "parent_hash": b32("not the genesis hash")}
    gap = {**h1, "number": 5}
    chain = header_chain(257)
    cases = [
        ("truncated", enc[:-1], "truncated"),
        ("trailing_byte", enc + b"\0", "trailing_bytes"),
        ("version_1", b"\x01" + enc[1:], "unsupported_version"),
        ("version_3", b"\x03" + enc[1:], "unsupported_version"),
        # Cut inside each of the segment fields and the block count that follows them.
        ("cut_in_segment_index", enc[:42], "truncated"),
        ("cut_in_start_tx", enc[:45], "truncated"),
        ("cut_in_gas_before", enc[:54], "truncated"),
        ("cut_in_end_tx", enc[:58], "truncated"),
        ("cut_in_block_count", enc[:60], "truncated"),
        ("zero_blocks", variant(t, blocks=[]), "no_blocks"),
        ("unsorted_nodes", variant(t, nodes=[nodes[1], nodes[0], nodes[2]]), "unsorted"),
        ("duplicate_code", variant(t, codes=[codes[0], codes[0], codes[1]]), "duplicate"),
        ("empty_code", variant(t, codes=[b""] + codes), "empty_code"),
        ("no_headers", variant(t, headers=[]), "no_headers"),
        ("non_contiguous_parent", variant(t, headers=[h0, bad_parent], parent_hash=block_hash(bad_parent)),
         "header_parent_mismatch"),
        ("non_contiguous_number", variant(t, headers=[h0, gap], parent_hash=block_hash(gap)), "header_number_gap"),
        ("wrong_parent_hash", variant(t, parent_hash=b32("elsewhere")), "parent_hash_mismatch"),
        ("too_many_headers", variant(t, headers=chain, parent_hash=block_hash(chain[-1])), "too_large"),
        ("block_with_trailing_byte", enc[:TRACE_BLOCKS_OFFSET] + u32(len(enc_block(t["blocks"][0])) + 1) +
         enc_block(t["blocks"][0]) + b"\0" + enc[TRACE_BLOCKS_OFFSET + 4 + len(enc_block(t["blocks"][0])):],
         "trailing_bytes"),
    ]
    out = []
    for name, value, kind in cases:
        data = value if isinstance(value, bytes) else enc_trace(value, sort=False)
        out.append({"name": name, "encoded": hx(data), "error": kind})
    return out


def segment_trace():
    """One block of three transactions, gas limit under SEGMENT_GAS; its third segment, which
    starts at transaction 1 after 6,500,000 gas and ends the block."""
    return {**small_trace(), "segment": segment(2, 1, 6_500_000, 3),
            "blocks": [block(2, [TX_A, TX_B, TX_A], gas_limit=6_000_000)]}


def trace_vectors():
    t = small_trace()
    one = {**small_trace(), "segment": segment(0, 0, 0, 0), "blocks": [block(2, [])]}
    widest = {**small_trace(), "segment": segment(U16_MAX, U32_MAX - 1, U64_MAX, U32_MAX)}
    return {"valid": [trace_valid(t, "small_2_blocks"), trace_valid(one, "one_empty_block"),
                      trace_valid(segment_trace(), "third_segment_of_block"),
                      trace_valid(widest, "segment_fields_max")],
            "invalid": trace_invalid()}


def execute_call_vectors():
    trace = enc_trace(small_trace())
    calls = [("small_trace", {"pre_state_root": b32("state 1"), "post_state_root": b32("state 3"),
                              "trace": trace, "gas_used": 42_000}),
             ("empty_trace", {"pre_state_root": bytes(32), "post_state_root": b32("x"), "trace": b"", "gas_used": 0}),
             ("trace_32_bytes", {"pre_state_root": b32("a"), "post_state_root": b32("b"), "trace": b32("c"),
                                 "gas_used": U64_MAX})]
    valid = [{"name": n, "value": jsonable(c), "encoded": hx(enc_execute(c))} for n, c in calls]
    enc = enc_execute(calls[0][1])
    invalid = [
        ("offset_not_0x80", enc[:64] + word(0xa0) + enc[96:], "abi_offset"),
        ("gas_used_over_u64", enc[:96] + word(2**64) + enc[128:], "integer_overflow"),
        ("nonzero_padding", enc[:-1] + b"\x01", "abi_padding"),
        ("missing_padding", enc[:-1], "truncated"),
        ("trailing_word", enc + bytes(32), "trailing_bytes"),
        ("length_past_end", enc[:128] + word(len(trace) + 64) + enc[160:], "truncated"),
    ]
    return {"valid": valid, "invalid": [{"name": n, "encoded": hx(e), "error": k} for n, e, k in invalid]}


def gas_cost_vectors():
    # small_trace's blocks have gas limits 30,000,000 (charged SEGMENT_GAS) and 1,000,000.
    t = small_trace()
    enc = enc_trace(t)
    # A gas limit of 2^64 - 1 is charged SEGMENT_GAS too: the sum cannot overflow any more.
    huge = variant(t, blocks=[block(2, [], gas_limit=U64_MAX), block(3, [], gas_limit=1)])
    at_cap = variant(t, blocks=[block(2, [TX_A], gas_limit=SEGMENT_GAS), block(3, [], gas_limit=SEGMENT_GAS + 1)])
    seg = enc_trace(segment_trace())
    garbage_witness = enc[:TRACE_BLOCKS_OFFSET + 8 + sum(4 + len(enc_block(b)) for b in t["blocks"])] + b"\xff" * 5
    cases = [("small_trace", enc, t["blocks"]), ("segment_trace", seg, segment_trace()["blocks"]),
             ("witness_not_decoded", garbage_witness, t["blocks"]),
             ("gas_limit_max_capped", enc_trace(huge), huge["blocks"]),
             ("gas_limit_at_cap", enc_trace(at_cap), at_cap["blocks"])]
    return {"cases": [{"name": n, "trace": hx(e), "gas": gas_cost(e, b)} for n, e, b in cases] + [
        {"name": "zero_blocks", "trace": hx(enc_trace(variant(t, blocks=[]))), "error": "no_blocks"},
        {"name": "block_too_short_for_gas_limit", "trace": hx(enc[:TRACE_BLOCKS_OFFSET] + prefixed(b"\0" * 70)),
         "error": "truncated"},
        {"name": "version_1", "trace": hx(b"\x01" + enc[1:]), "error": "unsupported_version"},
    ]}


def batch_chain(base: dict, checkpoints) -> list:
    """The batch's headers: each checkpoint chained onto the header before it."""
    out, parent = [], base
    for c in checkpoints:
        h = {"parent_hash": block_hash(parent), "number": parent["number"] + 1,
             "input_commitment": c["input_commitment"], "state_root": c["post_state_root"],
             "gas_used": c["gas_used"]}
        out.append(h)
        parent = h
    return out


def cut_leaf(h: dict, segment: int, cut: dict) -> bytes:
    """The leaf of a cut: segment `segment` of the block whose header is `h` ends at the cut.
    Seven words: the block's parent_hash, number and input_commitment, then segment, end_tx,
    state_root, gas_used (a header is five words, so the two kinds never share a preimage)."""
    return k256(h["parent_hash"] + word(h["number"]) + h["input_commitment"] + word(segment)
                + word(cut["end_tx"]) + cut["state_root"] + word(cut["gas_used"]))


def batch_leaves(headers, cuts) -> list:
    """The batch tree's leaves (protocol v3): for each block in order, one leaf per cut of
    the block (its k-th cut, counting from 0, is segment k), then the block's hash. Cuts are
    sorted by block_index. A batch without cuts has its block hashes as leaves, as before."""
    leaves = []
    for i, h in enumerate(headers):
        own = [c for c in cuts if c["block_index"] == i]
        leaves += [cut_leaf(h, k, c) for k, c in enumerate(own)]
        leaves.append(block_hash(h))
    return leaves


def tree_levels(leaves):
    """Every level of the batch tree, leaves first: pairs hash as keccak256(left || right), an
    odd level's last node pairs with 32 zero bytes, and the root is the one node left."""
    levels = [list(leaves)]
    while len(levels[-1]) > 1:
        level = levels[-1]
        padded = level + [bytes(32)] * (len(level) % 2)
        levels.append([k256(padded[i] + padded[i + 1]) for i in range(0, len(padded), 2)])
    return levels


def tree_path(leaves, index):
    path = []
    for level in tree_levels(leaves)[:-1]:
        sibling = index ^ 1
        path.append(level[sibling] if sibling < len(level) else bytes(32))
        index //= 2
    return path


def cuts_of(block_index: int, count: int, gas_used: int) -> list:
    """`count` cuts of one block: segment k ends at transaction 3(k + 1), the block's gas used
    growing evenly to `gas_used`."""
    return [{"block_index": block_index, "end_tx": 3 * (k + 1), "state_root": b32(f"block {block_index} cut {k}"),
             "gas_used": gas_used * (k + 1) // (count + 1)} for k in range(count)]


def batch_tree_vectors():
    base = {"parent_hash": b32("before the batch"), "number": 41, "input_commitment": b32("inputs 41"),
            "state_root": b32("state 41"), "gas_used": 1_234_567}

    def checkpoints(n):
        return [{"input_commitment": b32(f"inputs {i}"), "post_state_root": b32(f"state {i}"),
                 "gas_used": 21_000 * (i + 1)} for i in range(n)]

    def case(name, cps, cuts, picks):
        headers = batch_chain(base, cps)
        leaves = batch_leaves(headers, cuts)
        out = {"name": name, "base": jsonable(base), "checkpoints": [jsonable(c) for c in cps]}
        if cuts:
            out["cuts"] = [jsonable(c) for c in cuts]
        out.update({"block_hashes": [hx(block_hash(h)) for h in headers], "leaves": [hx(x) for x in leaves],
                    "root": hx(tree_levels(leaves)[-1][0]),
                    "paths": [{"index": i, "path": [hx(x) for x in tree_path(leaves, i)]} for i in sorted(picks)]})
        return out

    valid = []
    for n in [1, 2, 3, 5, 8, 13, 64]:
        valid.append(case(f"{n}_blocks", checkpoints(n), [], {0, n // 2, n - 1}))
    # One block in four segments: leaves cut 0, cut 1, cut 2, header.
    valid.append(case("1_block_3_cuts", checkpoints(1), cuts_of(0, 3, 21_000), {0, 1, 2, 3}))
    # Leaves: block 0; block 1's cut and header; blocks 2, 3; block 4's 15 cuts (leaves 5..19) and header.
    valid.append(case("5_blocks_cuts_in_1_and_4", checkpoints(5), cuts_of(1, 1, 42_000) + cuts_of(4, 15, 105_000),
                      {0, 1, 2, 3, 5, 12, 19, 20}))
    return {"valid": valid}


# ---------------------------------------------------------------- self-check and write

def self_check(files):
    decoders = {"block_inputs": dec_block, "l2_header": dec_header, "checkpoint": dec_checkpoint,
                "trace": dec_trace, "execute_call": dec_execute}
    for name, content in files.items():
        dec = decoders.get(name)
        if dec is None:
            continue
        for v in content["valid"]:
            dec(bytes.fromhex(v["encoded"][2:]))
        for v in content["invalid"]:
            try:
                dec(bytes.fromhex(v["encoded"][2:]))
            except Bad as e:
                assert e.kind == v["error"], (name, v["name"], e.kind, v["error"])
            else:
                raise AssertionError(f"{name}/{v['name']} was accepted")


def main():
    files = {"block_inputs": block_inputs_vectors(), "l2_header": header_vectors(),
             "checkpoint": checkpoint_vectors(), "trace": trace_vectors(),
             "execute_call": execute_call_vectors(), "execute_gas_cost": gas_cost_vectors(),
             "batch_tree": batch_tree_vectors()}
    self_check(files)
    for name, content in files.items():
        with open(os.path.join(HERE, f"{name}.json"), "w") as f:
            json.dump(content, f, indent=1)
            f.write("\n")
        print(f"wrote {name}.json")


if __name__ == "__main__":
    main()
