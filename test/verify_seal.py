#!/usr/bin/env python3
"""Recompute pg_dataspace seals from their stored rows, independently.

Written from docs/encoding.md alone, with python3's hashlib and the openssl
command-line tool (for Ed25519), so that it shares no code with the
extension.  Two uses:

  verify_seal.py --seals S --points P --keys K
      S: rows of dataspace.seal; P: rows of dataspace.point (asset_id, seq,
      ts, value, batch_id, and optionally nonce); K: rows of
      dataspace.node_public_key (key_id, public_key), or give the node's
      public key with --public-key HEX instead.  Each file is a JSON array,
      JSON lines (psql -At -c "SELECT row_to_json(s) FROM dataspace.seal s")
      or CSV with a header (psql --csv, or \\copy ... CSV HEADER).
      Every leaf is recomputed from the stored values (nonces from the
      seal's blinding_seed, or from the points' nonce column when the seed
      is not available, as to dataspace_reader), then the Merkle root, the
      chain link to the previous seal of the asset, the seal message, and
      the signature.  One line per seal: "seal ID ok" or
      "seal ID BROKEN: reasons".

  verify_seal.py --proof FILE
      FILE: one dataspace.point_proof() object.  Checks it offline as
      docs/encoding.md says ("Inclusion proof").

Exit status: 0 if everything verifies, 1 if something does not, 2 if the
input cannot be read.
"""

import argparse
import csv
import hashlib
import io
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import uuid

ZERO_HASH = bytes(32)
ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")


class InputError(Exception):
    pass


# ---------------------------------------------------------------------------
# Encodings (docs/encoding.md, "Scalars")
# ---------------------------------------------------------------------------

def H(data):
    return hashlib.sha256(data).digest()


def i64(x):
    return struct.pack(">q", x)


def u32(x):
    return struct.pack(">I", x)


def uuid_bytes(text):
    return uuid.UUID(text).bytes


def value_bits(value):
    """The binary64 bits, big-endian; -0 is sealed as +0."""
    if value == 0.0:
        value = 0.0
    return struct.pack(">d", value)


def days_from_civil(y, m, d):
    """Days since 1970-01-01 of a proleptic Gregorian date (any year)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


TS_RE = re.compile(
    r"^(\d{4,})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?"
    r"(?:([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?|Z)?( BC)?$")


def ts_us(text):
    """Microseconds since 1970-01-01 UTC of a timestamptz as PostgreSQL
    prints it (ISO, with its offset; " BC" for years before 1)."""
    m = TS_RE.match(text.strip())
    if m is None:
        raise InputError("cannot read timestamp %r" % text)
    year = int(m.group(1))
    if m.group(12):
        year = 1 - year            # 1 BC is year 0
    days = days_from_civil(year, int(m.group(2)), int(m.group(3)))
    secs = days * 86400 + int(m.group(4)) * 3600 + int(m.group(5)) * 60 + int(m.group(6))
    if m.group(8):
        off = int(m.group(9)) * 3600 + int(m.group(10) or 0) * 60 + int(m.group(11) or 0)
        secs -= off if m.group(8) == "+" else -off
    frac = (m.group(7) or "").ljust(6, "0")
    return secs * 1000000 + int(frac)


def hex_bytes(text, length=None, what="hex"):
    """bytea as psql prints it (\\x...), or plain hex."""
    if text is None:
        return None
    if text.startswith("\\x"):
        text = text[2:]
    try:
        b = bytes.fromhex(text)
    except ValueError:
        raise InputError("%s is not hex: %r" % (what, text))
    if length is not None and len(b) != length:
        raise InputError("%s has %d bytes, not %d" % (what, len(b), length))
    return b


def int_list(v):
    """bigint[] from JSON (a list) or CSV ("{1,2,3}")."""
    if isinstance(v, list):
        return [int(x) for x in v]
    v = v.strip()
    if not (v.startswith("{") and v.endswith("}")):
        raise InputError("not an array: %r" % v)
    return [int(x) for x in v[1:-1].split(",") if x != ""]


# ---------------------------------------------------------------------------
# Hashing (docs/encoding.md, "Blinding nonce", "Leaf", "Merkle tree")
# ---------------------------------------------------------------------------

def nonce(seed, asset_id, seq):
    return H(b"\x02" + seed + asset_id + i64(seq))[:16]


def leaf_hash(asset_id, seq, ts, value, nonce_bytes):
    return H(b"\x00" + asset_id + i64(seq) + i64(ts) + value_bits(value) + nonce_bytes)


def node_hash(left, right):
    return H(b"\x01" + left + right)


def largest_power_of_two_below(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def merkle_root(leaves):
    """MTH, RFC 9162 section 2.1.1, by its recursive definition."""
    if len(leaves) == 1:
        return leaves[0]
    k = largest_power_of_two_below(len(leaves))
    return node_hash(merkle_root(leaves[:k]), merkle_root(leaves[k:]))


def audit_path_length(index, size):
    n = 0
    while size > 1:
        k = largest_power_of_two_below(size)
        if index < k:
            size = k
        else:
            index, size = index - k, size - k
        n += 1
    return n


def root_from_path(leaf, index, size, path):
    """RFC 9162 section 2.1.3.2; None when the path is of the wrong shape."""
    if index >= size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


# ---------------------------------------------------------------------------
# Signed messages (docs/encoding.md, "Signed messages", "Seal (type 1)")
# ---------------------------------------------------------------------------

def field(b):
    return u32(len(b)) + b


def seal_message(node_id, asset_id, chain_pos, prev_hash, root, point_count,
                 first_seq, last_seq, min_ts, max_ts, sealed_at, key_id):
    fields = [node_id, asset_id, i64(chain_pos), prev_hash, root,
              i64(point_count), i64(first_seq), i64(last_seq), i64(min_ts),
              i64(max_ts), i64(sealed_at), b"ed25519", key_id]
    return b"PGDS" + bytes([1, 1]) + b"".join(field(f) for f in fields)


def ed25519_verify(public_key, message, signature):
    """Ed25519 (RFC 8032, pure) with the openssl command-line tool."""
    with tempfile.TemporaryDirectory() as d:
        paths = {n: os.path.join(d, n) for n in ("key.der", "msg", "sig")}
        with open(paths["key.der"], "wb") as f:
            f.write(ED25519_SPKI_PREFIX + public_key)
        with open(paths["msg"], "wb") as f:
            f.write(message)
        with open(paths["sig"], "wb") as f:
            f.write(signature)
        r = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin",
                            "-keyform", "DER", "-inkey", paths["key.der"],
                            "-rawin", "-in", paths["msg"],
                            "-sigfile", paths["sig"]],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        return r.returncode == 0


# ---------------------------------------------------------------------------
# Reading psql's exports
# ---------------------------------------------------------------------------

def read_rows(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    s = text.lstrip()
    if s.startswith("["):
        return json.loads(s)
    if s.startswith("{"):
        return [json.loads(line) for line in s.splitlines() if line.strip()]
    rows = list(csv.DictReader(io.StringIO(text)))
    # psql --csv prints NULL as an empty field
    return [{k: (None if v == "" else v) for k, v in r.items()} for r in rows]


def as_float(v):
    return float(v)


# ---------------------------------------------------------------------------
# Checking seals
# ---------------------------------------------------------------------------

def check_seals(seals, points, keys):
    """Returns [(seal id, [reasons])], in chain order per asset."""
    by_asset = {}
    for p in points:
        by_asset.setdefault(p["asset_id"], []).append(p)
    chains = {}
    for s in seals:
        chains.setdefault(s["asset_id"], []).append(s)

    results = []
    for asset_text in sorted(chains):
        chain = sorted(chains[asset_text], key=lambda s: int(s["chain_pos"]))
        prev_message = None
        prev_pos = 0
        for s in chain:
            reasons = []
            asset_id = uuid_bytes(asset_text)
            chain_pos = int(s["chain_pos"])
            first_seq, last_seq = int(s["first_seq"]), int(s["last_seq"])
            batches = set(int_list(s["batch_ids"]))
            seed = hex_bytes(s.get("blinding_seed"), 32, "blinding_seed")
            key_id = hex_bytes(s["key_id"], 32, "key_id")
            stored_root = hex_bytes(s["merkle_root"], None, "merkle_root")
            prev_hash = hex_bytes(s["prev_hash"], None, "prev_hash")
            signature = hex_bytes(s["signature"], None, "signature")

            # the points this seal covers, in ascending seq
            members = sorted(
                (p for p in by_asset.get(asset_text, [])
                 if first_seq <= int(p["seq"]) <= last_seq
                 and int(p["batch_id"]) in batches),
                key=lambda p: int(p["seq"]))
            leaves = []
            for p in members:
                seq = int(p["seq"])
                if seed is not None:
                    n = nonce(seed, asset_id, seq)
                elif p.get("nonce"):
                    n = hex_bytes(p["nonce"], 16, "nonce")
                else:
                    raise InputError("seal %s: no blinding_seed and no nonce for seq %d"
                                     % (s["id"], seq))
                leaves.append(leaf_hash(asset_id, seq, ts_us(p["ts"]),
                                        as_float(p["value"]), n))
            if len(members) != int(s["point_count"]):
                reasons.append("%d points found, point_count says %s"
                               % (len(members), s["point_count"]))
            if not leaves or merkle_root(leaves) != stored_root:
                reasons.append("Merkle root of the stored points differs")
            if members:
                seqs = [int(p["seq"]) for p in members]
                tss = [ts_us(p["ts"]) for p in members]
                if seqs[0] != first_seq or seqs[-1] != last_seq:
                    reasons.append("seq range of the points differs")
                if min(tss) != ts_us(s["min_ts"]) or max(tss) != ts_us(s["max_ts"]):
                    reasons.append("ts range of the points differs")

            # chain link: recomputed from the previous seal, never stored hashes
            if chain_pos != prev_pos + 1:
                reasons.append("seal missing from chain before chain_pos %d" % chain_pos)
            expect_prev = ZERO_HASH if prev_message is None else H(prev_message)
            if prev_hash != expect_prev:
                reasons.append("prev_hash is not the hash of the previous seal")

            message = seal_message(uuid_bytes(s["node_id"]), asset_id, chain_pos,
                                   prev_hash, stored_root, int(s["point_count"]),
                                   first_seq, last_seq, ts_us(s["min_ts"]),
                                   ts_us(s["max_ts"]), ts_us(s["sealed_at"]), key_id)
            if s.get("algorithm", "ed25519") != "ed25519":
                reasons.append("algorithm is not ed25519")
            public_key = keys.get(key_id)
            if public_key is None:
                reasons.append("unknown key")
            elif len(signature) != 64 or not ed25519_verify(public_key, message, signature):
                reasons.append("bad signature")

            results.append((s["id"], reasons))
            prev_message = message
            prev_pos = chain_pos
    return results


def load_keys(args):
    keys = {}
    if args.public_key:
        pub = hex_bytes(args.public_key, 32, "public key")
        keys[H(pub)] = pub
    if args.keys:
        for k in read_rows(args.keys):
            pub = hex_bytes(k["public_key"], 32, "public_key")
            if H(pub) != hex_bytes(k["key_id"], 32, "key_id"):
                raise InputError("key_id %s is not the hash of its public key" % k["key_id"])
            keys[H(pub)] = pub
    return keys


# ---------------------------------------------------------------------------
# Checking one inclusion proof (docs/encoding.md, "Inclusion proof")
# ---------------------------------------------------------------------------

def ts_text(us):
    """The one spelling of an instant that a proof's ts may have."""
    secs, frac = divmod(us, 1000000)
    days, rem = divmod(secs, 86400)
    # civil_from_days
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    y = yoe + era * 400 + (m <= 2)
    year = "%04d" % y if 0 <= y <= 9999 else "%+05d" % y
    return "%s-%02d-%02dT%02d:%02d:%02d.%06dZ" % (
        year, m, d, rem // 3600, rem // 60 % 60, rem % 60, frac)


def check_proof(p):
    reasons = []
    s = p["seal"]
    asset_id = uuid_bytes(p["asset_id"])
    if ts_text(p["ts_us"]) != p["ts"]:
        reasons.append("ts and ts_us differ")
    leaf = leaf_hash(asset_id, p["seq"], p["ts_us"], float(p["value"]),
                     hex_bytes(p["nonce"], 16, "nonce"))
    if leaf != hex_bytes(p["leaf_hash"], 32, "leaf_hash"):
        reasons.append("leaf_hash differs from the recomputed leaf")
    if (p["asset_id"] != s["asset_id"]
            or not s["first_seq"] <= p["seq"] <= s["last_seq"]
            or not s["min_ts_us"] <= p["ts_us"] <= s["max_ts_us"]
            or not 0 <= p["leaf_index"] < s["point_count"]):
        reasons.append("point outside the seal")
    path = [hex_bytes(h, 32, "path") for h in p["path"]]
    root = hex_bytes(s["merkle_root"], 32, "merkle_root")
    if (len(path) != audit_path_length(p["leaf_index"], s["point_count"])
            or root_from_path(leaf, p["leaf_index"], s["point_count"], path) != root):
        reasons.append("path does not lead to merkle_root")
    public_key = hex_bytes(s["public_key"], 32, "public_key")
    key_id = hex_bytes(s["key_id"], 32, "key_id")
    if H(public_key) != key_id or s["algorithm"] != "ed25519":
        reasons.append("key_id is not the hash of public_key")
    message = seal_message(uuid_bytes(s["node_id"]), uuid_bytes(s["asset_id"]),
                           s["chain_pos"], hex_bytes(s["prev_hash"], 32, "prev_hash"),
                           root, s["point_count"], s["first_seq"], s["last_seq"],
                           s["min_ts_us"], s["max_ts_us"], s["sealed_at_us"], key_id)
    if H(message) != hex_bytes(s["seal_hash"], 32, "seal_hash"):
        reasons.append("seal_hash differs from the recomputed seal message")
    if not ed25519_verify(public_key, message, hex_bytes(s["signature"], 64, "signature")):
        reasons.append("bad signature")
    return reasons


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seals")
    ap.add_argument("--points")
    ap.add_argument("--keys")
    ap.add_argument("--public-key")
    ap.add_argument("--proof")
    args = ap.parse_args()
    try:
        if args.proof:
            with open(args.proof, encoding="utf-8") as f:
                reasons = check_proof(json.load(f))
            print("proof ok" if not reasons else "proof BROKEN: " + "; ".join(reasons))
            return 1 if reasons else 0
        if not (args.seals and args.points and (args.keys or args.public_key)):
            ap.error("give --proof, or --seals, --points and --keys or --public-key")
        results = check_seals(read_rows(args.seals), read_rows(args.points), load_keys(args))
    except (InputError, KeyError, ValueError, TypeError) as e:
        print("cannot read input: %s" % e, file=sys.stderr)
        return 2
    bad = 0
    for seal_id, reasons in results:
        if reasons:
            bad += 1
            print("seal %s BROKEN: %s" % (seal_id, "; ".join(reasons)))
        else:
            print("seal %s ok" % seal_id)
    print("%d seals, %d broken" % (len(results), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
