"""Verify a reagent audit chain (SQLite file) with an RFC 8785 library.

    pip install rfc8785==0.1.4
    python3 verify_chain.py audit.db

Exit status 0: every record links to the one before and hashes to its stored
entry hash; 1: the first broken record is named.
"""
import hashlib
import json
import sqlite3
import sys

import rfc8785


def number(text):
    # JSON integers of 16+ digits are doubles in RFC 8785; rfc8785 refuses
    # Python ints beyond 2**53.
    return int(text) if len(text.lstrip("-")) < 16 else float(text)


def verify(path):
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    rows = db.execute(
        "SELECT seq, kind, run_id, created_at, payload, prev_hash, hash, canon"
        " FROM audit_records ORDER BY seq"
    ).fetchall()
    prev, checked, legacy = None, 0, 0
    for seq, kind, run_id, created_at, payload, prev_hash, entry_hash, canon in rows:
        if prev is None:  # first record: seq 1, or the first after a prune
            prev = "0" * 64
            if seq != 1:
                for (p,) in db.execute("SELECT payload FROM audit_records WHERE kind = 'checkpoint'"):
                    cp = json.loads(p)
                    if cp["pruned_through_seq"] == seq - 1:
                        prev = cp["pruned_through_hash"]
        if prev_hash != prev:
            return f"seq {seq} (run {run_id}): prev_hash does not link to the record before"
        if canon != "rfc8785":
            # Written before reagent adopted RFC 8785: `reagent audit verify`
            # checks these; here only their links are followed.
            legacy += 1
            prev = entry_hash
            continue
        value = json.loads(payload, parse_int=number)
        if rfc8785.dumps(value) != payload.encode():
            return f"seq {seq} (run {run_id}): payload is not in RFC 8785 form"
        record = {"canon": canon, "created_at": created_at, "kind": kind,
                  "payload": value, "run_id": run_id, "seq": seq}
        digest = hashlib.sha256(prev.encode() + rfc8785.dumps(record)).hexdigest()
        if digest != entry_hash:
            return f"seq {seq} (run {run_id}): entry hash mismatch (edited)"
        prev, checked = entry_hash, checked + 1
    head_seq, head_hash = db.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
    last_seq = rows[-1][0] if rows else 0
    if head_seq != last_seq or (rows and head_hash != prev):
        return f"chain head is at seq {head_seq}, records end at seq {last_seq} (truncated)"
    print(f"intact: {checked} records checked with RFC 8785, {legacy} legacy records linked, head {prev}")
    return None


if __name__ == "__main__":
    problem = verify(sys.argv[1])
    if problem:
        print("broken:", problem)
        sys.exit(1)
