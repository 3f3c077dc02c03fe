#!/usr/bin/env python3
"""Writes vectors.json: password hashes in the formats Gatehouse imports,
made by the formats' own reference code, for adapters/passhash's tests.

    cd adapters/passhash/testdata && python3 make_vectors.py > vectors.json

scrypt and PBKDF2-SHA256 come from Python's hashlib; argon2i and argon2id
from the reference implementation's command line tool (Debian package
argon2). The salts are fixed so that a rerun writes the same file.
"""
import base64
import hashlib
import json
import subprocess

PASSWORD = "correct horse battery staple"
UNICODE = "pässwörd mit ümläuten ☃"


def b64(raw):
    return base64.b64encode(raw).decode().rstrip("=")


def ab64(raw):
    # passlib's "adapted base64": "." for "+", no padding.
    return b64(raw).replace("+", ".")


def scrypt_phc(pw, salt, ln, r, p):
    key = hashlib.scrypt(pw.encode(), salt=salt, n=1 << ln, r=r, p=p, dklen=32)
    return "$scrypt$ln=%d,r=%d,p=%d$%s$%s" % (ln, r, p, b64(salt), b64(key))


def pbkdf2_passlib(pw, salt, rounds):
    key = hashlib.pbkdf2_hmac("sha256", pw.encode(), salt, rounds, 32)
    return "$pbkdf2-sha256$%d$%s$%s" % (rounds, ab64(salt), ab64(key))


def pbkdf2_phc(pw, salt, rounds):
    key = hashlib.pbkdf2_hmac("sha256", pw.encode(), salt, rounds, 32)
    return "$pbkdf2-sha256$i=%d,l=32$%s$%s" % (rounds, b64(salt), b64(key))


def pbkdf2_django(pw, salt, rounds):
    key = hashlib.pbkdf2_hmac("sha256", pw.encode(), salt.encode(), rounds, 32)
    return "pbkdf2_sha256$%d$%s$%s" % (rounds, salt, base64.b64encode(key).decode())


def argon2(pw, salt, variant, t, m_log2):
    out = subprocess.run(["argon2", salt, "-" + variant, "-t", str(t), "-m", str(m_log2), "-p", "1", "-e"],
                         input=pw.encode(), capture_output=True, check=True)
    return out.stdout.decode().strip()


vectors = []
for pw in (PASSWORD, UNICODE):
    vectors += [
        {"format": "scrypt", "password": pw, "hash": scrypt_phc(pw, b"saltysaltysalt16", 12, 8, 1)},
        {"format": "scrypt", "password": pw, "hash": scrypt_phc(pw, b"othersalt", 10, 4, 2)},
        {"format": "pbkdf2-sha256", "password": pw, "hash": pbkdf2_passlib(pw, b"\xfb\xfe\x00saltsalt\x8f", 29000)},
        {"format": "pbkdf2-sha256", "password": pw, "hash": pbkdf2_phc(pw, b"phcsaltphcsalt", 10000)},
        {"format": "django-pbkdf2-sha256", "password": pw, "hash": pbkdf2_django(pw, "Rz0l8yNsBDkQ4aHbN1qZfM", 30000)},
        {"format": "argon2i", "password": pw, "hash": argon2(pw, "somesaltsomesalt", "i", 3, 12)},
        {"format": "argon2id", "password": pw, "hash": argon2(pw, "somesaltsomesalt", "id", 2, 13)},
    ]
print(json.dumps(vectors, indent=2, ensure_ascii=False))
