#!/usr/bin/env python3
"""Independent decoder for casevault streaming format v1, written from FORMAT.md.

Usage: decode_v1.py VECTOR_FILE            (checks tests/vectors/stream-v1.txt or keys-v1.txt)
       decode_v1.py CASE_KEY_HEX OBJECT    (writes the plaintext to stdout)

Needs the `cryptography` package (pip install cryptography).
"""

import hashlib
import struct
import sys

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

HEADER_LEN = 105
OVERHEAD = 28


class Integrity(Exception):
    pass


def open_sealed(key, sealed, aad):
    """nonce (12) || ciphertext || tag (16) -> plaintext."""
    if len(sealed) < OVERHEAD:
        raise Integrity("too short")
    try:
        return AESGCM(key).decrypt(sealed[:12], sealed[12:], aad)
    except Exception as e:  # cryptography raises InvalidTag
        raise Integrity(str(e)) from e


def decrypt(case_key_id, case_key, obj):
    if len(obj) < HEADER_LEN:
        raise ValueError("BadHeader: truncated")
    header = obj[:HEADER_LEN]
    if header[:7] != b"CASEVLT":
        raise ValueError("BadHeader: magic")
    if header[7] != 1:
        raise ValueError("UnsupportedVersion %d" % header[7])
    if header[8] != 1:
        raise ValueError("UnsupportedAlgorithm %d" % header[8])
    (chunk_size,) = struct.unpack(">I", header[9:13])
    if not 4096 <= chunk_size <= 16 * 1024 * 1024:
        raise ValueError("BadHeader: chunk size")
    key_id, wrapped, stream_id = header[13:29], header[29:89], header[89:105]
    if key_id != case_key_id:
        raise Integrity("wrong case key")
    data_key = open_sealed(case_key, wrapped, b"casevault/v1/data-key" + key_id + stream_id)

    sealed_len = chunk_size + OVERHEAD
    body = len(obj) - HEADER_LEN
    full, rem = divmod(body, sealed_len)
    if rem == 0 and full >= 1:
        n = full
    elif rem == OVERHEAD and full == 0:
        n = 1
    elif rem > OVERHEAD:
        n = full + 1
    else:
        raise Integrity("impossible length")
    if n > 2**32:
        raise Integrity("too many chunks")

    h = hashlib.sha256(header).digest()
    out = bytearray()
    for i in range(n):
        start = HEADER_LEN + i * sealed_len
        chunk = obj[start : start + sealed_len]
        aad = h + struct.pack(">QB", i, 1 if i == n - 1 else 0)
        out += open_sealed(data_key, chunk, aad)
    return bytes(out), data_key, h


def open_sealed_value(case_key_id, case_key, context, sealed):
    """version 01 || nonce || ct || tag, AAD "casevault/v1/sealed" || 01 || key id || context."""
    if sealed[:1] != b"\x01":
        raise ValueError("UnsupportedVersion")
    return open_sealed(case_key, sealed[1:], b"casevault/v1/sealed\x01" + case_key_id + context)


def unwrap_case_key(master_key_id, master_key, case_key_id, wrapped):
    """nonce || ct || tag (60), AAD "casevault/v1/case-key" || kek id || key id."""
    if len(wrapped) != 60:
        raise Integrity("wrapped key length")
    return open_sealed(master_key, wrapped, b"casevault/v1/case-key" + master_key_id + case_key_id)


def main():
    if len(sys.argv) == 2:
        fields = {}
        for line in open(sys.argv[1]):
            if "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                fields[k.strip()] = bytes.fromhex(v.strip())
        if "sealed" in fields:
            kid, key = fields["case_key_id"], fields["case_key"]
            value = open_sealed_value(kid, key, fields["sealed_context"], fields["sealed"])
            assert value == fields["sealed_plaintext"], "sealed value"
            kek_id, kek = fields["master_key_id"], fields["master_key"]
            assert unwrap_case_key(kek_id, kek, kid, fields["wrapped"]) == key, "wrapped key"
            print("vector OK: sealed value and wrapped case key")
            return
        plain, data_key, h = decrypt(fields["case_key_id"], fields["case_key"], fields["object"])
        assert data_key == fields["data_key"], "data key"
        assert h == fields["header_sha256"], "header hash"
        assert plain == bytes(i % 251 for i in range(4100)), "plaintext"
        print("vector OK: %d plaintext bytes" % len(plain))
    elif len(sys.argv) == 3:
        key = bytes.fromhex(sys.argv[1])
        obj = open(sys.argv[2], "rb").read()
        plain, _, _ = decrypt(obj[13:29], key, obj)
        sys.stdout.buffer.write(plain)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
