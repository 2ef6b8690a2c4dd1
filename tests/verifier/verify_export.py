#!/usr/bin/env python3
"""An independent verifier of a kroniek export, written from DOMAIN.md and events/FORMAT.md
alone: it shares no code with kroniek. Needs the PyPI packages `jcs` and `blake3`.

    python3 verify_export.py EXPORT.jsonl

Prints `verified N events, head <hash>` and exits 0, or prints
`broken at position P: <why>` and exits 1.
"""
import json
import sys

import blake3
import jcs

EXCLUDED = ("hash", "personal", "personal_salt")
WITHHELD_KEYS = {"hash", "position", "prev_hash", "stream", "type", "version", "withheld"}


def fail(position, why):
    print(f"broken at position {position}: {why}")
    sys.exit(1)


def main(path):
    prev = "0" * 64
    expected = 0
    versions = {}
    with open(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError as e:
            fail(expected, f"not JSON: {e}")
        if not isinstance(record, dict):
            fail(expected, "not a JSON object")
        if jcs.canonicalize(record) != line:
            fail(expected, "not in canonical (RFC 8785) form")
        if record.get("position") != expected:
            fail(expected, f"position {record.get('position')} where {expected} was due")
        if record.get("prev_hash") != prev:
            fail(expected, "prev_hash is not the previous record's hash")
        stream = record.get("stream")
        if record.get("version") != versions.get(stream, 0):
            fail(expected, f"version {record.get('version')} of {stream} out of order")
        versions[stream] = versions.get(stream, 0) + 1
        if record.get("withheld") is True:
            if set(record) != WITHHELD_KEYS:
                fail(expected, "a withheld record has other keys")
        else:
            hashed = {k: v for k, v in record.items() if k not in EXCLUDED}
            digest = blake3.blake3(jcs.canonicalize(hashed)).hexdigest()
            if digest != record.get("hash"):
                fail(expected, f"hash mismatch: the record hashes to {digest}")
            commitment = record.get("personal_commitment")
            personal = record.get("personal")
            salt = record.get("personal_salt")
            if commitment is None:
                if "personal" in record or "personal_salt" in record:
                    fail(expected, "personal data without a commitment")
            elif personal is not None:
                key = bytes.fromhex(salt)
                keyed = blake3.blake3(jcs.canonicalize(personal), key=key).hexdigest()
                if keyed != commitment:
                    fail(expected, "personal data does not match its commitment")
            elif ("personal" in record) != ("personal_salt" in record) or salt is not None:
                fail(expected, "personal and personal_salt must be both present, both null or both absent")
        prev = record["hash"]
        expected += 1
    print(f"verified {expected} events, head {prev}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1])
