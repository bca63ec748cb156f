#!/usr/bin/env python3
"""Writes a sample file for `tongxing import` (to measure it, or to try it).

    tools/import-sample.py 100000 jsonl > users.jsonl
    tools/import-sample.py 100000 csv --organization CNIC > users.csv

Every account gets a distinct name, login phone (+86 139…), e-mail and a
password hash of one of the accepted kinds in turn (unsalted SHA-1 and
SHA-256 hex, {SSHA}, sha256$salt$hex, MD5-crypt, bcrypt, argon2id, none);
one in fifty is disabled. The hashes are well-formed; only the SHA ones are
of a real password ("Sample-<n>!"), as the import does not check them.
"""

import argparse
import base64
import csv
import hashlib
import json
import sys

FIXED = [
    "$1$saltstri$YMyguxXMBpd2TEZ.vS/3q1",
    "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
    "$argon2id$v=19$m=1024,t=2,p=1$c29tZXNhbHQ$7FfsnA6vUe7qLpL/3Kqc3uR48ZJyFbUVt7jWZlf0Htk",
]


def password_hash(n):
    pw = f"Sample-{n}!".encode()
    salt = n.to_bytes(4, "big")
    kind = n % 8
    if kind == 0:
        return hashlib.sha1(pw).hexdigest()
    if kind == 1:
        return hashlib.sha256(pw).hexdigest()
    if kind == 2:
        return "{SSHA}" + base64.b64encode(hashlib.sha1(pw + salt).digest() + salt).decode()
    if kind == 3:
        s = salt.hex()
        return f"sha256${s}$" + hashlib.sha256(s.encode() + pw).hexdigest()
    if kind in (4, 5, 6):
        return FIXED[kind - 4]
    return ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("count", type=int)
    ap.add_argument("format", choices=["jsonl", "csv"])
    ap.add_argument("--organization", default="")
    args = ap.parse_args()
    fields = ["username", "display_name", "login_phone", "email", "email_verified",
              "organization", "status", "status_reason", "password_hash"]
    out = sys.stdout
    writer = csv.writer(out, lineterminator="\n") if args.format == "csv" else None
    if writer:
        writer.writerow(fields)
    for n in range(args.count):
        disabled = n % 50 == 49
        row = {
            "username": f"user{n:06d}@example.cn",
            "display_name": f"用户{n}",
            "login_phone": f"+86139{n:08d}",
            "email": f"user{n}@mail.example.org",
            "email_verified": "true" if n % 2 == 0 else "false",
            "organization": args.organization,
            "status": "disabled" if disabled else "active",
            "status_reason": "left the institute" if disabled else "",
            "password_hash": password_hash(n),
        }
        if writer:
            writer.writerow([row[f] for f in fields])
        else:
            out.write(json.dumps({k: v for k, v in row.items() if v}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
