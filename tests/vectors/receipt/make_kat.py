#!/usr/bin/env python3
"""Recompute receipt.kat independently of the C code (hashlib, cryptography).

The receipt statement is encoded by hand (protobuf wire format), its
package leaf and a 3-leaf log built as docs/FORMAT-merkle.md says, and the
tree head signed with the KAT key (Ed25519 seed 00 01 .. 1f).
Run: python3 tests/vectors/receipt/make_kat.py > tests/vectors/receipt/receipt.kat
"""
import hashlib
import struct
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field_bytes(num, data):
    return varint((num << 3) | 2) + varint(len(data)) + data


def field_varint(num, v):
    return varint((num << 3) | 0) + varint(v)


sha = lambda b: hashlib.sha256(b).digest()
key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
pk = key.public_key().public_bytes(serialization.Encoding.Raw,
                                   serialization.PublicFormat.Raw)
key_id = hashlib.blake2b(b"CSBM-key-id-v1" + pk, digest_size=32).digest()[:16]

pid = bytes(range(16))
env_hash = bytes(range(0x20, 0x40))
at = 1767225600
receipt = (field_bytes(1, b"OAS-CSBM") + field_bytes(2, pid)
           + field_bytes(3, b"ARG") + field_varint(4, 7)
           + field_bytes(5, env_hash) + field_varint(6, 42)
           + field_varint(7, at) + field_varint(8, 2))
entry = (b"\x01" + struct.pack(">Q", 42) + struct.pack(">Q", at) + env_hash
         + sha(receipt))
leaf = sha(b"\x00" + entry)
l0, l1 = sha(b"\x00" + b""), sha(b"\x00" + b"\x00")
n01 = sha(b"\x01" + l0 + l1)
root = sha(b"\x01" + n01 + leaf)
origin = b"OAS-CSBM"
sth = (b"CSBMSTH1" + bytes([len(origin)]) + origin + struct.pack(">Q", 3)
       + root + struct.pack(">Q", at))
sth_sig = key.sign(b"CSBM-tree-head-v1\x00" + sth)

rejection = (field_bytes(1, b"OAS-CSBM") + field_bytes(2, pid)
             + field_bytes(3, b"CHL") + field_bytes(4, env_hash)
             + field_varint(5, 10) + field_bytes(6, b"package id reused")
             + field_varint(7, at))
rej_sig = key.sign(b"CSBM-rejection-v1\x00" + rejection)

print("# Known-answer vectors of crypto/receipt: see README.md")
for name, v in [("hub_sign_pk", pk), ("hub_key_id", key_id),
                ("receipt_statement", receipt), ("receipt_leaf_entry", entry),
                ("receipt_leaf_hash", leaf), ("log_leaf0_hash", l0),
                ("log_leaf1_hash", l1), ("receipt_inclusion_path", n01),
                ("tree_head", sth), ("tree_head_signature", sth_sig),
                ("rejection_statement", rejection),
                ("rejection_signature", rej_sig)]:
    print("%s=%s" % (name, v.hex()))
