#!/usr/bin/env python3
"""A node's private key, read independently of the extension, for tests.

  nodekey.py unwrap KEYFILE NODE_ID KEY_ID WRAPPED_HEX
      Prints the key's 32-byte seed and the public key derived from it, in
      hex.
  nodekey.py sign-seal KEYFILE NODE_ID KEY_ID WRAPPED_HEX < SEAL_JSON
      Signs the seal message (docs/encoding.md, "Seal (type 1)") made from
      a JSON object with the signed fields of a dataspace.seal row
      (node_id, asset_id, chain_pos, prev_hash and merkle_root in hex,
      point_count, first_seq, last_seq, min_ts, max_ts, sealed_at as
      PostgreSQL prints timestamps, key_id in hex) and prints the signature
      and the seal's hash in hex: what only the signer could make, so that
      tests can make a validly signed seal that says something false.

KEYFILE is the node's pg_dataspace.key; WRAPPED_HEX the node_key row's
wrapped_private_key.  The wrapping is src/keys.c's: "W1", a 12-byte IV, the
AES-256-GCM ciphertext of the seed and its 16-byte tag, with the label,
node id and key id as associated data.  libcrypto through ctypes only.
"""

import binascii
import ctypes
import json
import os
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from verify_seal import H, seal_message, ts_us  # noqa: E402

EVP_PKEY_ED25519 = 1087
EVP_CTRL_GCM_SET_TAG = 0x11

c = ctypes.CDLL("libcrypto.so.3")
P = ctypes.c_void_p
for f, res, args in (
        ("EVP_CIPHER_CTX_new", P, []), ("EVP_aes_256_gcm", P, []),
        ("EVP_DecryptInit_ex", ctypes.c_int, [P, P, P, ctypes.c_char_p, ctypes.c_char_p]),
        ("EVP_DecryptUpdate", ctypes.c_int, [P, P, P, ctypes.c_char_p, ctypes.c_int]),
        ("EVP_DecryptFinal_ex", ctypes.c_int, [P, P, P]),
        ("EVP_CIPHER_CTX_ctrl", ctypes.c_int, [P, ctypes.c_int, ctypes.c_int, ctypes.c_char_p]),
        ("EVP_PKEY_new_raw_private_key", P, [ctypes.c_int, P, ctypes.c_char_p, ctypes.c_size_t]),
        ("EVP_PKEY_get_raw_public_key", ctypes.c_int, [P, P, P]),
        ("EVP_MD_CTX_new", P, []),
        ("EVP_DigestSignInit", ctypes.c_int, [P, P, P, P, P]),
        ("EVP_DigestSign", ctypes.c_int, [P, P, P, ctypes.c_char_p, ctypes.c_size_t])):
    getattr(c, f).restype = res
    getattr(c, f).argtypes = args


def unwrap(keyfile, node_id, key_id, wrapped):
    with open(keyfile, "rb") as f:
        content = f.read()
    if len(content) != 40 or content[:8] != b"PGDSKEK1":
        sys.exit("%s is not a key file" % keyfile)
    kek = content[8:]
    if len(wrapped) != 62 or wrapped[:2] != b"W1":
        sys.exit("not a wrapped key")
    iv, ct, tag = wrapped[2:14], wrapped[14:46], wrapped[46:]
    aad = b"pg_dataspace private key v1" + node_id + key_id
    ctx, n = c.EVP_CIPHER_CTX_new(), ctypes.c_int(0)
    seed, fin = ctypes.create_string_buffer(32), ctypes.create_string_buffer(16)
    ok = (c.EVP_DecryptInit_ex(ctx, c.EVP_aes_256_gcm(), None, kek, iv) == 1
          and c.EVP_DecryptUpdate(ctx, None, ctypes.byref(n), aad, len(aad)) == 1
          and c.EVP_DecryptUpdate(ctx, seed, ctypes.byref(n), ct, 32) == 1 and n.value == 32
          and c.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1
          and c.EVP_DecryptFinal_ex(ctx, fin, ctypes.byref(n)) == 1)
    if not ok:
        sys.exit("could not unwrap")
    return seed.raw


def private_key(seed):
    pkey = c.EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, None, seed, 32)
    if not pkey:
        sys.exit("not an Ed25519 seed")
    return pkey


def public_key(seed):
    pub, publen = ctypes.create_string_buffer(32), ctypes.c_size_t(32)
    if c.EVP_PKEY_get_raw_public_key(private_key(seed), pub, ctypes.byref(publen)) != 1:
        sys.exit("could not derive the public key")
    return pub.raw


def sign(seed, message):
    ctx = c.EVP_MD_CTX_new()
    sig, siglen = ctypes.create_string_buffer(64), ctypes.c_size_t(64)
    if (c.EVP_DigestSignInit(ctx, None, None, None, private_key(seed)) != 1
            or c.EVP_DigestSign(ctx, sig, ctypes.byref(siglen), message, len(message)) != 1
            or siglen.value != 64):
        sys.exit("could not sign")
    return sig.raw


def main():
    if len(sys.argv) != 6 or sys.argv[1] not in ("unwrap", "sign-seal"):
        sys.exit(__doc__)
    node_id = uuid.UUID(sys.argv[3]).bytes
    key_id = binascii.unhexlify(sys.argv[4])
    seed = unwrap(sys.argv[2], node_id, key_id, binascii.unhexlify(sys.argv[5]))
    if sys.argv[1] == "unwrap":
        print(seed.hex(), public_key(seed).hex())
        return
    s = json.load(sys.stdin)
    message = seal_message(
        uuid.UUID(s["node_id"]).bytes, uuid.UUID(s["asset_id"]).bytes,
        int(s["chain_pos"]), bytes.fromhex(s["prev_hash"]),
        bytes.fromhex(s["merkle_root"]), int(s["point_count"]),
        int(s["first_seq"]), int(s["last_seq"]), ts_us(s["min_ts"]),
        ts_us(s["max_ts"]), ts_us(s["sealed_at"]), bytes.fromhex(s["key_id"]))
    print(sign(seed, message).hex(), H(message).hex())


if __name__ == "__main__":
    main()
