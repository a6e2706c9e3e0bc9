#!/usr/bin/env python3
"""Check envelope.csbm from docs/FORMAT.md alone, without libsodium.

An independent reader and writer of the CSBM envelope, version 1: the
protobuf wire format, HChaCha20, the secretstream construction and the key
wrapping are written out here from the format description; only X25519,
Ed25519, ChaCha20, Poly1305 and ChaCha20-Poly1305 come from the Python
`cryptography` package, and BLAKE2b from hashlib.

It parses, verifies and opens the envelope for both recipients, then seals
the same inputs again from the test-vector seed and compares byte for byte.

    python3 tests/vectors/envelope/check_vector.py
"""
import hashlib
import os
import struct
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey, Ed25519PublicKey)
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey, X25519PublicKey)
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.poly1305 import Poly1305
from cryptography.hazmat.primitives import serialization

HERE = os.path.dirname(os.path.abspath(__file__))
RAW = serialization.Encoding.Raw


def blake2b(data, key=b""):
    return hashlib.blake2b(data, digest_size=32, key=key).digest()


def key_id(pk):
    return blake2b(b"CSBM-key-id-v1" + pk)[:16]


# ------------------------------------------------------------ ChaCha20

def _rotl(v, n):
    return ((v << n) & 0xffffffff) | (v >> (32 - n))


def _qr(s, a, b, c, d):
    s[a] = (s[a] + s[b]) & 0xffffffff; s[d] = _rotl(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & 0xffffffff; s[b] = _rotl(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & 0xffffffff; s[d] = _rotl(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & 0xffffffff; s[b] = _rotl(s[b] ^ s[c], 7)


def hchacha20(key, nonce16):
    s = list(struct.unpack("<4I", b"expand 32-byte k")
             + struct.unpack("<8I", key) + struct.unpack("<4I", nonce16))
    for _ in range(10):
        _qr(s, 0, 4, 8, 12); _qr(s, 1, 5, 9, 13)
        _qr(s, 2, 6, 10, 14); _qr(s, 3, 7, 11, 15)
        _qr(s, 0, 5, 10, 15); _qr(s, 1, 6, 11, 12)
        _qr(s, 2, 7, 8, 13); _qr(s, 3, 4, 9, 14)
    return struct.pack("<8I", *(s[0:4] + s[12:16]))


def chacha20_xor(key, nonce12, counter, data):
    c = Cipher(algorithms.ChaCha20(key, struct.pack("<I", counter) + nonce12),
               mode=None).encryptor()
    return c.update(data)


def xchacha20poly1305_encrypt(key, nonce24, plain, ad):
    sub = hchacha20(key, nonce24[:16])
    return ChaCha20Poly1305(sub).encrypt(b"\0" * 4 + nonce24[16:], plain, ad)


def xchacha20poly1305_decrypt(key, nonce24, ct, ad):
    sub = hchacha20(key, nonce24[:16])
    return ChaCha20Poly1305(sub).decrypt(b"\0" * 4 + nonce24[16:], ct, ad)


# ----------------------------------------------- secretstream (no rekey)

TAG_MESSAGE, TAG_FINAL = 0, 3


class Stream:
    def __init__(self, key, header24):
        self.k = hchacha20(key, header24[:16])
        self.counter = 1
        self.inonce = header24[16:24]

    def _nonce(self):
        return struct.pack("<I", self.counter) + self.inonce

    def _mac(self, ad, block, c):
        p = Poly1305(chacha20_xor(self.k, self._nonce(), 0, b"\0" * 64)[:32])
        p.update(ad + b"\0" * ((16 - len(ad)) % 16))
        p.update(block + c + b"\0" * (len(c) % 16))  # libsodium's padding
        p.update(struct.pack("<QQ", len(ad), 64 + len(c)))
        return p.finalize()

    def _advance(self, mac):
        self.inonce = bytes(a ^ b for a, b in zip(self.inonce, mac[:8]))
        self.counter += 1
        assert self.counter < 2**32  # a rekey never happens in an envelope

    def push(self, m, ad, tag):
        block = chacha20_xor(self.k, self._nonce(), 1, bytes([tag]) + b"\0" * 63)
        c = chacha20_xor(self.k, self._nonce(), 2, m)
        mac = self._mac(ad, block, c)
        self._advance(mac)
        return block[:1] + c + mac

    def pull(self, chunk, ad):
        block = chacha20_xor(self.k, self._nonce(), 1,
                             chunk[:1] + b"\0" * 63)
        tag = block[0]
        block = chunk[:1] + block[1:]
        c, mac = chunk[1:-16], chunk[-16:]
        if self._mac(ad, block, c) != mac:
            raise ValueError("chunk does not authenticate")
        m = chacha20_xor(self.k, self._nonce(), 2, c)
        self._advance(mac)
        return m, tag


# ------------------------------------------------------------ protobuf

def varint(buf, i):
    v, shift = 0, 0
    while True:
        b = buf[i]; i += 1
        v |= (b & 0x7f) << shift
        if b < 0x80:
            return v, i
        shift += 7


def fields(buf):
    i, out = 0, []
    while i < len(buf):
        key, i = varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(buf, i)
        elif wt == 2:
            n, i = varint(buf, i)
            v, i = buf[i:i + n], i + n
        else:
            raise ValueError("unexpected wire type %d" % wt)
        out.append((num, v))
    return out


def put_varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7f) | 0x80); v >>= 7
    out.append(v)
    return bytes(out)


def put(num, v):
    if isinstance(v, int):
        return put_varint(num << 3) + put_varint(v) if v else b""
    return put_varint(num << 3 | 2) + put_varint(len(v)) + v if v else b""


# --------------------------------------------------------------- files

def load_keys():
    k = {"recipients": []}
    for line in open(os.path.join(HERE, "keys.txt")):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        if parts[0] == "recipient_box_secret":
            k["recipients"].append((parts[1], bytes.fromhex(parts[2])))
        elif parts[0] in ("sender_sign_seed", "seal_seed", "content_key"):
            k[parts[0]] = bytes.fromhex(parts[1])
        elif parts[0] == "sender":
            k["sender"] = parts[1]
    return k


def derive(seed, name, counter, n):
    msg = b"CSBM-envelope-test-seed-v1\0" + name + b"\0" + struct.pack(">I", counter)
    return blake2b(msg, key=seed)[:n]


def wrap_key(shared, eph_pk, rcpt_pk, pid):
    assert shared != b"\0" * 32
    return blake2b(b"CSBM-wrap-v1" + eph_pk + rcpt_pk + pid, key=shared)


def main():
    keys = load_keys()
    env = open(os.path.join(HERE, "envelope.csbm"), "rb").read()
    plain = open(os.path.join(HERE, "plaintext.bin"), "rb").read()

    # framing
    assert env[:4] == b"CSBM" and env[4] == 1
    hl = struct.unpack(">I", env[5:9])[0]
    header = env[9:9 + hl]
    sig = env[9 + hl:9 + hl + 64]
    body = env[9 + hl + 64:]

    # header
    h = {"recipients": [], "references": []}
    for num, v in fields(header):
        if num == 8:
            h["recipients"].append(dict(fields(v)))
        elif num == 11:
            h["references"].append(v)
        else:
            h[num] = v
    assert h[1] == 1 and h[17] == len(body), "version / body_size"

    # signature and body hash
    seed = keys["sender_sign_seed"]
    sign_sk = Ed25519PrivateKey.from_private_bytes(seed)
    sign_pk = sign_sk.public_key().public_bytes(RAW, serialization.PublicFormat.Raw)
    assert h[5] == key_id(sign_pk), "sender_key_id"
    msg = b"CSBM-envelope-signature-v1\0" + env[4:9] + header
    Ed25519PublicKey.from_public_bytes(sign_pk).verify(sig, msg)
    assert blake2b(body) == h[18], "body_hash"

    # open for each recipient
    pid, chunk = h[3], h[16]
    for (rid, sk), r in zip(keys["recipients"], h["recipients"]):
        assert r[1].decode() == rid
        priv = X25519PrivateKey.from_private_bytes(sk)
        pk = priv.public_key().public_bytes(RAW, serialization.PublicFormat.Raw)
        assert r[2] == key_id(pk), "recipient key_id"
        shared = priv.exchange(X25519PublicKey.from_public_bytes(r[3]))
        k = xchacha20poly1305_decrypt(wrap_key(shared, r[3], pk, pid),
                                      b"\0" * 24, r[4], rid.encode())
        assert k == keys["content_key"]
        assert blake2b(b"CSBM-key-commitment-v1" + pid, key=k) == h[15]
        st, off, out = Stream(k, body[:24]), 24, b""
        while True:
            n = min(chunk + 17, len(body) - off)
            m, tag = st.pull(body[off:off + n], pid)
            out, off = out + m, off + n
            if off == len(body):
                assert tag == TAG_FINAL
                break
            assert tag == TAG_MESSAGE
        assert out == plain, "plaintext"
        print("opened as %s: %d bytes" % (rid, len(out)))

    # seal again from the seed and compare
    s = keys["seal_seed"]
    k = derive(s, b"content-key", 0, 32)
    pid2 = derive(s, b"package-id", 0, 16)
    assert k == keys["content_key"] and pid2 == pid
    st = Stream(k, derive(s, b"stream-header", 0, 24))
    body2, off = derive(s, b"stream-header", 0, 24), 0
    while True:
        m = plain[off:off + chunk]
        final = len(plain) - off < chunk
        body2 += st.push(m, pid, TAG_FINAL if final else TAG_MESSAGE)
        off += len(m)
        if final:
            break
    assert body2 == body, "body"
    recips = b""
    for i, (rid, sk) in enumerate(sorted(keys["recipients"])):
        rpk = X25519PrivateKey.from_private_bytes(sk).public_key().public_bytes(
            RAW, serialization.PublicFormat.Raw)
        esk = X25519PrivateKey.from_private_bytes(derive(s, b"ephemeral", i, 32))
        epk = esk.public_key().public_bytes(RAW, serialization.PublicFormat.Raw)
        wk = wrap_key(esk.exchange(X25519PublicKey.from_public_bytes(rpk)),
                      epk, rpk, pid)
        wrapped = xchacha20poly1305_encrypt(wk, b"\0" * 24, k, rid.encode())
        recips += put(8, put(1, rid.encode()) + put(2, key_id(rpk))
                      + put(3, epk) + put(4, wrapped))
    header2 = (put(1, 1) + put(2, h[2]) + put(3, pid) + put(4, h[4])
               + put(5, key_id(sign_pk)) + put(6, h[6]) + put(7, h[7])
               + recips + put(9, h[9]) + put(10, h[10])
               + b"".join(put(11, r) for r in h["references"])
               + put(12, h.get(12, 0)) + put(13, h.get(13, 0))
               + put(14, h.get(14, b""))
               + put(15, blake2b(b"CSBM-key-commitment-v1" + pid, key=k))
               + put(16, chunk) + put(17, len(body2)) + put(18, blake2b(body2)))
    assert header2 == header, "header"
    framed = b"CSBM\x01" + struct.pack(">I", len(header2))
    sig2 = sign_sk.sign(b"CSBM-envelope-signature-v1\0" + framed[4:] + header2)
    assert framed + header2 + sig2 + body2 == env, "envelope"
    print("sealed again from the seed: %d bytes, identical" % len(env))
    return 0


if __name__ == "__main__":
    sys.exit(main())
