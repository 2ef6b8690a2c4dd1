#!/usr/bin/env python3
"""An independent check of kroniek's proofs, written from events/FORMAT.md and the C2SP /
RFC 6962 / RFC 9162 texts alone; it shares no code with kroniek. PyPI: jcs, blake3, cryptography.

    python3 verify_proofs.py --export E --checkpoint C --log-key VKEY [--witness-key VKEY]
                             [--inclusion JSON] [--consistency JSON]

Checks: the export's chain (verify_export.py), the RFC 6962 tree built from the export's record
hashes against the checkpoint's root, the checkpoint's Ed25519 signature and key ID, the
witness's cosignature (cosignature/v1), an inclusion and a consistency proof. Prints `ok` and
exits 0, or prints what failed and exits 1.
"""
import argparse
import base64
import hashlib
import json
import subprocess
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def fail(why):
    print(f"FAILED: {why}")
    sys.exit(1)


def sha(data):
    return hashlib.sha256(data).digest()


def leaf(record_hash):
    return sha(b"\x00" + record_hash)


def node(left, right):
    return sha(b"\x01" + left + right)


def mth(leaves):
    """RFC 6962 Merkle tree hash, straight from its definition."""
    if not leaves:
        return sha(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node(mth(leaves[:k]), mth(leaves[k:]))


def parse_vkey(vkey):
    name, key_id, body = vkey.strip().split("+", 2)
    raw = base64.b64decode(body)
    kind, public = raw[0], raw[1:]
    if len(public) != 32:
        fail(f"{name}: the public key is not 32 bytes")
    computed = sha(name.encode() + b"\n" + bytes([kind]) + public)[:4].hex()
    if computed != key_id:
        fail(f"{name}: key ID {key_id} does not match the key ({computed})")
    return name, bytes.fromhex(key_id), kind, Ed25519PublicKey.from_public_bytes(public)


def parse_note(text):
    body, _, sigs = text.rpartition("\n\n")
    body += "\n"
    lines = []
    for line in sigs.strip("\n").split("\n"):
        if not line.startswith("\u2014 "):
            fail(f"not a signature line: {line!r}")
        name, sig = line[2:].split(" ", 1)
        lines.append((name, base64.b64decode(sig)))
    return body, lines


def check_signature(body, lines, vkey):
    name, key_id, kind, key = vkey
    found = False
    for n, sig in lines:
        if n != name or sig[:4] != key_id:
            continue
        try:
            if kind == 0x01:
                key.verify(sig[4:], body.encode())
            elif kind == 0x04:
                timestamp = int.from_bytes(sig[4:12], "big")
                message = f"cosignature/v1\ntime {timestamp}\n".encode() + body.encode()
                key.verify(sig[12:], message)
            else:
                fail(f"{name}: unknown signature type {kind}")
        except InvalidSignature:
            fail(f"the signature of {name} does not verify")
        found = True
    if not found:
        fail(f"no signature of {name}")


def verify_inclusion(leaf_hash, index, size, proof, root):
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_hash, second_hash, proof):
    """RFC 9162 section 2.1.4.2."""
    if first == second:
        return not proof and first_hash == second_hash
    if first == 0 or first > second:
        return first == 0 and not proof
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_hash)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node(c, fr)
            sr = node(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--export", required=True)
    a.add_argument("--checkpoint", required=True)
    a.add_argument("--log-key", required=True)
    a.add_argument("--witness-key")
    a.add_argument("--inclusion")
    a.add_argument("--consistency")
    args = a.parse_args()

    here = __file__.rsplit("/", 1)[0]
    chain = subprocess.run([sys.executable, f"{here}/verify_export.py", args.export], capture_output=True, text=True)
    if chain.returncode != 0:
        fail(f"the export: {chain.stdout.strip()}")
    hashes = []
    with open(args.export, "rb") as f:
        for line in f.read().split(b"\n"):
            if line:
                hashes.append(bytes.fromhex(json.loads(line)["hash"]))
    leaves = [leaf(h) for h in hashes]

    text = open(args.checkpoint, encoding="utf-8").read()
    body, lines = parse_note(text)
    origin, size, root_b64 = body.rstrip("\n").split("\n")
    size = int(size)
    root = base64.b64decode(root_b64)
    log_key = parse_vkey(open(args.log_key).read() if args.log_key.endswith(".vkey") else args.log_key)
    if log_key[0] != origin:
        fail(f"the checkpoint's origin {origin} is not the key's name {log_key[0]}")
    check_signature(body, lines, log_key)
    if size > len(leaves) or mth(leaves[:size]) != root:
        fail("the checkpoint's root is not the tree of the export's record hashes")
    if args.witness_key:
        wkey = parse_vkey(open(args.witness_key).read() if args.witness_key.endswith(".vkey") else args.witness_key)
        check_signature(body, lines, wkey)

    if args.inclusion:
        p = json.load(open(args.inclusion))
        i, n = p["index"], p["tree_size"]
        record_hash = bytes.fromhex(p["record_hash"])
        if record_hash != hashes[i]:
            fail("the inclusion proof's record hash is not the export's record at that index")
        if bytes.fromhex(p["leaf_hash"]) != leaf(record_hash):
            fail("the leaf hash is not SHA-256(0x00 || record hash)")
        if bytes.fromhex(p["root"]) != mth(leaves[:n]):
            fail("the inclusion proof's root is not the tree of that size")
        if not verify_inclusion(leaf(record_hash), i, n, [bytes.fromhex(h) for h in p["proof"]], mth(leaves[:n])):
            fail("the inclusion proof does not verify")
    if args.consistency:
        p = json.load(open(args.consistency))
        m, n = p["old_size"], p["new_size"]
        old_root, new_root = mth(leaves[:m]), mth(leaves[:n])
        if bytes.fromhex(p["old_root"]) != old_root or bytes.fromhex(p["new_root"]) != new_root:
            fail("the consistency proof's roots are not the trees of those sizes")
        if not verify_consistency(m, n, old_root, new_root, [bytes.fromhex(h) for h in p["proof"]]):
            fail("the consistency proof does not verify")
    print("ok")


if __name__ == "__main__":
    main()
