#!/usr/bin/env python3
"""Generate tests/vectors/identifiers.json: the identifier vectors shared by the Rust, Kotlin and
Swift tests.

- Phone cases: a curated list below (real numbers written every way people write them, short
  codes, numbers of other regions, and hostile text), with the canonical E.164 or the error code
  from Google's libphonenumber (Python `phonenumbers`, pinned in
  tools/phone-corpus/requirements.txt) under exactly the semantics of
  `contactsync_core::identifier::phone::normalize`; error codes are prefixed `phone.`.
- Other kinds: merged verbatim from tools/vectors/cases_other.json (a list of
  `{"kind", "input", "canonical"}` or `{"kind", "input", "error"}` objects kept by whoever owns
  those kinds). Created as `[]` when missing; never rewritten otherwise.
- Every case with a canonical form gets its keyed hash, computed here with Python's hmac and
  hashlib, independently of the Rust code:
      HMAC-SHA-256(key = bytes 0x00..0x1f,
                   "contactsync-v1" || 0x00 || kind || 0x00 || canonical)   (UTF-8)
  truncated to its first 16 bytes (HMAC-SHA-256-128, the protocol's digest), as base64url
  without padding.

Order is kept (phone cases, then the others, each in source order) and nothing is random, so
the output is byte-identical from run to run.

Usage (from the repository root):
    tools/phone-corpus/.venv/bin/python tools/vectors/generate.py
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# tools/phone-corpus/generate.py: the oracle, its pinned version and the JSON escaping.
_spec = importlib.util.spec_from_file_location(
    "phone_corpus_generate", ROOT / "tools" / "phone-corpus" / "generate.py")
corpus = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(corpus)

OUT = ROOT / "tests" / "vectors" / "identifiers.json"
OTHER = ROOT / "tools" / "vectors" / "cases_other.json"

KEY = bytes(range(32))
KEY_ID = "test-key-1"
CONTEXT = b"contactsync-v1"

LRE, PDF, LRI, PDI, RLM, LRM = "\u202a", "\u202c", "\u2066", "\u2069", "\u200f", "\u200e"

# (default region, input). The verdicts come from the oracle, not from this list.
PHONE: list[tuple[str, str]] = [
    # --- DE: one mobile number written every way, then landlines, service numbers, mistakes.
    ("DE", "0172 3127130"),
    ("DE", "+49 172 3127130"),
    ("DE", "0049 (172) 312-7130"),
    ("DE", "+49.172.312.7130"),
    ("DE", "tel:+49-172-3127130"),
    ("DE", "tel:+49-172-3127130;ext=99"),
    ("DE", "\uff10\uff11\uff17\uff12 \uff13\uff11\uff12\uff17\uff11\uff13\uff10"),
    ("DE", "+49 172 3127130 ext. 99"),
    ("DE", "+49 172 3127130 x99"),
    ("DE", "0172 3127130#99"),
    ("DE", "+49 (0)172 3127130"),
    ("DE", "0172/3127130"),
    ("DE", "1723127130"),
    ("DE", "49 172 3127130"),
    ("DE", "030 1234567"),
    ("DE", "030/123 456 7"),
    ("DE", "+49 30 1234567"),
    ("DE", "0800 1234567"),
    ("DE", "0900 5 123456"),
    ("DE", "112"),
    ("DE", "110"),
    ("DE", "0172 312713"),
    ("DE", "0172 31271300000"),
    ("DE", "01234"),
    ("DE", "+49"),
    ("DE", "+49 999 1234567"),
    ("DE", "011 44 20 7946 0958"),
    ("DE", "00 44 20 7946 0958"),
    # --- US / CA: NANP.
    ("US", "(201) 555-0123"),
    ("US", "201-555-0123"),
    ("US", "201.555.0123"),
    ("US", "2015550123"),
    ("US", "1 (201) 555-0123"),
    ("US", "+1 201 555 0123"),
    ("US", "+1 201 555 0123 x123"),
    ("US", "tel:+1-201-555-0123;ext=123"),
    ("US", "555-0123"),
    ("US", "(123) 456-7890"),
    ("US", "1-800-FLOWERS"),
    ("US", "1-800-356-9377"),
    ("US", "911"),
    ("US", "411"),
    ("US", "011 49 172 3127130"),
    ("US", "+49 172 3127130"),
    ("US", "00 49 172 3127130"),
    ("US", "+44 20 7946 0958"),
    ("CA", "(416) 555-0199"),
    ("CA", "+1 604 555 5555"),
    ("CA", "613-555-01"),
    # --- GB
    ("GB", "020 7946 0958"),
    ("GB", "+44 20 7946 0958"),
    ("GB", "+44 (0)20 7946 0958"),
    ("GB", "0044 20 7946 0958"),
    ("GB", "07400 123456"),
    ("GB", "+44 7400 123456"),
    ("GB", "0800 123 4567"),
    ("GB", "999"),
    ("GB", "020 7946 095"),
    ("GB", "+44 20 7946 09580"),
    # --- FR
    ("FR", "01 23 45 67 89"),
    ("FR", "06 12 34 56 78"),
    ("FR", "+33 6 12 34 56 78"),
    ("FR", "+33 (0)6 12 34 56 78"),
    ("FR", "0033 6 12 34 56 78"),
    ("FR", "06.12.34.56.78"),
    ("FR", "15"),
    ("FR", "3615"),
    # --- IT: the leading zero of Italian landlines stays in E.164.
    ("IT", "06 6982 0000"),
    ("IT", "+39 06 6982 0000"),
    ("IT", "02 1234 5678"),
    ("IT", "312 345 6789"),
    ("IT", "+39 312 345 6789"),
    ("IT", "113"),
    # --- ES, NL, BE, CH, AT, SE, PL
    ("ES", "612 34 56 78"),
    ("ES", "+34 612 34 56 78"),
    ("ES", "91 123 45 67"),
    ("ES", "0034 91 123 45 67"),
    ("NL", "06 12345678"),
    ("NL", "+31 6 12345678"),
    ("NL", "020 123 4567"),
    ("NL", "+31 (0)20 123 4567"),
    ("BE", "0470 12 34 56"),
    ("BE", "+32 470 12 34 56"),
    ("CH", "044 668 18 00"),
    ("CH", "+41 44 668 18 00"),
    ("CH", "078 123 45 67"),
    ("CH", "117"),
    ("AT", "0664 1234567"),
    ("AT", "+43 664 1234567"),
    ("AT", "01 234567890"),
    ("SE", "08-123 456 78"),
    ("SE", "070-123 45 67"),
    ("SE", "+46 70 123 45 67"),
    ("PL", "512 345 678"),
    ("PL", "+48 512 345 678"),
    ("PL", "0048 512 345 678"),
    # --- RU, UA, TR: "8" as national prefix, "8~10" as the exit code.
    ("RU", "8 (912) 345-67-89"),
    ("RU", "+7 912 345-67-89"),
    ("RU", "8 (495) 123-45-67"),
    ("RU", "8 10 49 172 3127130"),
    ("RU", "810 49 172 3127130"),
    ("RU", "03"),
    ("UA", "050 123 4567"),
    ("UA", "+380 50 123 4567"),
    ("TR", "0532 123 45 67"),
    ("TR", "+90 532 123 45 67"),
    # --- IN, PK, CN, JP, KR, SG, TH, ID
    ("IN", "+91 98765 43210"),
    ("IN", "098765 43210"),
    ("IN", "98765 43210"),
    ("IN", "+91 22 1234 5678"),
    ("IN", "074104 10123"),
    ("IN", "1800 123 4567"),
    ("IN", "100"),
    ("PK", "0301 2345678"),
    ("PK", "+92 301 2345678"),
    ("CN", "138 0013 8000"),
    ("CN", "+86 138 0013 8000"),
    ("CN", "010 1234 5678"),
    ("CN", "+86 10 1234 5678"),
    ("CN", "00 86 138 0013 8000"),
    ("CN", "110"),
    ("JP", "03-1234-5678"),
    ("JP", "090-1234-5678"),
    ("JP", "+81 90-1234-5678"),
    ("JP", "010 49 172 3127130"),
    ("JP", "0120-123-456"),
    ("JP", "110"),
    ("KR", "010-1234-5678"),
    ("KR", "+82 10-1234-5678"),
    ("KR", "02-123-4567"),
    ("KR", "001 49 172 3127130"),
    ("SG", "9123 4567"),
    ("SG", "+65 9123 4567"),
    ("SG", "6123 4567"),
    ("TH", "081 234 5678"),
    ("TH", "\u0e50\u0e58\u0e51 \u0e52\u0e53\u0e54 \u0e55\u0e56\u0e57\u0e58"),
    ("ID", "0812-3456-789"),
    ("ID", "+62 812-3456-789"),
    # --- AU, NZ
    ("AU", "0412 345 678"),
    ("AU", "+61 412 345 678"),
    ("AU", "(02) 1234 5678"),
    ("AU", "0011 49 172 3127130"),
    ("AU", "1300 123 456"),
    ("AU", "000"),
    ("NZ", "021 123 4567"),
    ("NZ", "+64 21 123 4567"),
    ("NZ", "111"),
    # --- BR, MX, AR: carrier codes, the old Mexican mobile "1", the Argentine mobile "9"/"15".
    ("BR", "(11) 96123-4567"),
    ("BR", "+55 11 96123-4567"),
    ("BR", "011 96123 4567"),
    ("BR", "0 21 11 96123 4567"),
    ("BR", "190"),
    ("MX", "55 1234 5678"),
    ("MX", "+52 55 1234 5678"),
    ("MX", "+52 1 55 1234 5678"),
    ("MX", "044 55 1234 5678"),
    ("MX", "01 55 1234 5678"),
    ("AR", "011 15-2345-6789"),
    ("AR", "+54 9 11 2345-6789"),
    ("AR", "+54 11 2345-6789"),
    ("AR", "0 11 15 2345 6789"),
    # --- ZA, NG, KE, EG, MA
    ("ZA", "082 123 4567"),
    ("ZA", "+27 82 123 4567"),
    ("ZA", "10111"),
    ("NG", "0803 123 4567"),
    ("NG", "+234 803 123 4567"),
    ("KE", "0712 123456"),
    ("KE", "+254 712 123456"),
    ("EG", "010 1234 5678"),
    ("EG", "+20 10 1234 5678"),
    ("EG", "\u0660\u0661\u0660 \u0661\u0662\u0663\u0664 \u0665\u0666\u0667\u0668"),
    ("EG", "+\u0662\u0660 \u0661\u0660 \u0661\u0662\u0663\u0664 \u0665\u0666\u0667\u0668"),
    ("MA", "0650-123456"),
    ("MA", "+212 650-123456"),
    # --- SA, AE, IL, IR: Arabic-Indic and Persian digits, right-to-left marks.
    ("SA", "050 123 4567"),
    ("SA", "+966 50 123 4567"),
    ("SA", "\u0660\u0665\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667"),
    ("AE", "050 123 4567"),
    ("AE", "+971 50 123 4567"),
    ("AE", "\u06f0\u06f5\u06f0 \u06f1\u06f2\u06f3 \u06f4\u06f5\u06f6\u06f7"),
    ("IL", "050-234-5678"),
    ("IL", "+972 50-234-5678"),
    ("IL", RLM + "050-234-5678" + RLM),
    ("IL", "02-123-4567"),
    ("IR", "\u06f0\u06f9\u06f1\u06f2 \u06f3\u06f4\u06f5 \u06f6\u06f7\u06f8\u06f9"),
    ("IR", "+98 912 345 6789"),
    # --- Non-geographic numbers (+800 freephone, +882 networks) from any region.
    ("DE", "+800 1234 5678"),
    ("US", "011 800 1234 5678"),
    ("GB", "+882 3 1234 5678"),
    ("FR", "+870 301 234 567"),
    # --- Hostile and odd text (DE and US defaults).
    ("DE", "\U0001f4de +49 30 1234567"),
    ("DE", "+49 30 1234567 \U0001f600"),
    ("DE", "+49 30 1234567\u0000"),
    ("DE", "+49\u0000 30 1234567"),
    ("DE", "\u0000"),
    ("DE", "1" * 2000),
    ("DE", "+" + "9" * 1500),
    ("DE", "1" * 1024),
    ("DE", "1" * 1025),
    ("DE", "\uff11" * 342),
    ("DE", "9" * 300),
    ("DE", "9" * 40),
    ("DE", RLM + "+49 30 1234567"),
    ("DE", LRM + "+49 30 1234567" + LRM),
    ("DE", LRE + "+49 30 1234567" + PDF),
    ("DE", LRI + "+49 30 1234567" + PDI),
    ("DE", "+49 30 12\u200b34567"),
    ("DE", "+49\u00a030\u00a01234567"),
    ("DE", "\ufeff+49 30 1234567"),
    ("DE", "+\u0664\u0669 30 1234567"),
    ("DE", "+49 \uff13\uff10 1234567"),
    ("DE", "+49 \u09e9\u09e6 1234567"),
    ("DE", "+49 30 123456\u041e"),
    ("DE", "+\u2074\u2079 30 1234567"),
    ("DE", "+4\u03039 30 1234567"),
    ("DE", "+"),
    ("DE", "++"),
    ("DE", "+ "),
    ("DE", ""),
    ("DE", " "),
    ("DE", "\t\n"),
    ("DE", "tel:"),
    ("DE", "tel:+"),
    ("DE", "++49 30 1234567"),
    ("DE", "+0049 30 1234567"),
    ("DE", "(+49) 30 1234567"),
    ("DE", "+49 (0) (30) 1234567"),
    ("DE", "+49-30-1234567-"),
    ("DE", "+49 30 1234567\r\n"),
    ("DE", "+49 30 1234567 / +49 30 7654321"),
    ("DE", "030 1234567, 030 7654321"),
    ("DE", "+49 30 1234567 ext. 99999999999"),
    ("DE", "+49 30 1234567,,12"),
    ("DE", "#31#030 1234567"),
    ("DE", "*31#+49 30 1234567"),
    ("DE", "%2B4930 1234567"),
    ("DE", "<script>alert(1)</script>"),
    ("DE", "' OR 1=1 --"),
    ("DE", "ABC"),
    ("DE", "CALL-ME-NOW"),
    # Not "12,34": libphonenumber calls it not_a_number, rlibphonenumber 2.2.15 unassigned (it
    # lets an extension follow a two-digit number); tools/phone-corpus/README.md has the details.
    ("US", "+1 800 FLOWERS"),
    ("US", "1-800-FLOWERS-NOW"),
    ("US", "+1 201 555 0123 \U0001f4f1"),
    ("US", "\u202a+1 201-555-0123\u202c"),
    ("US", "\uff0b\uff11 \uff12\uff10\uff11 \uff15\uff15\uff15 \uff10\uff11\uff12\uff13"),
    ("US", "+1 201 555 0123 \u0434\u043e\u0431. 12"),
    ("US", "+999 1234567"),
    ("US", "+1"),
    ("US", "0"),
]


def oracle(region: str, raw: str) -> dict:
    verdict = corpus.oracle(raw, region)
    if "e164" in verdict:
        return {"canonical": verdict["e164"]}
    return {"error": "phone." + verdict["error"]}


def digest(kind: str, canonical: str) -> str:
    msg = CONTEXT + b"\x00" + kind.encode("utf-8") + b"\x00" + canonical.encode("utf-8")
    mac = hmac.new(KEY, msg, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def with_hash(case: dict) -> dict:
    """The case with "hash" right after "canonical" (when it has one)."""
    out = {}
    for k, v in case.items():
        if k == "hash":
            continue
        out[k] = v
        if k == "canonical":
            out["hash"] = digest(case["kind"], v)
    return out


def load_other() -> list[dict]:
    if not OTHER.exists():
        OTHER.write_text("[]\n", encoding="utf-8")
    cases = json.loads(OTHER.read_text(encoding="utf-8"))
    if not isinstance(cases, list):
        raise SystemExit(f"{OTHER}: expected a JSON list")
    for i, case in enumerate(cases):
        if not isinstance(case, dict) or not isinstance(case.get("kind"), str) \
                or not isinstance(case.get("input"), str):
            raise SystemExit(f"{OTHER}[{i}]: needs string fields kind and input: {case!r}")
        if ("canonical" in case) == ("error" in case):
            raise SystemExit(f"{OTHER}[{i}]: needs exactly one of canonical / error: {case!r}")
        if case["kind"] == "phone":
            raise SystemExit(f"{OTHER}[{i}]: phone cases are generated here, not merged")
    return cases


def main() -> int:
    if corpus.phonenumbers.__version__ != corpus.ORACLE_VERSION:
        print(f"phonenumbers {corpus.phonenumbers.__version__} is installed, the vectors are "
              f"pinned to {corpus.ORACLE_VERSION} (tools/phone-corpus/README.md)", file=sys.stderr)
        return 1
    cases = []
    for region, raw in PHONE:
        cases.append(with_hash({"kind": "phone", "region": region, "input": raw,
                                **oracle(region, raw)}))
    other = load_other()
    cases.extend(with_hash(c) for c in other)

    doc_head = {
        "description": (
            "Identifier vectors shared by the Rust, Kotlin and Swift tests: each case is an input "
            "(phone cases read in their default region) and either its canonical form and keyed "
            "hash, or the error code it must be rejected with. Phone verdicts are Google "
            f"libphonenumber's (Python phonenumbers {corpus.phonenumbers.__version__}, the "
            "metadata rlibphonenumber ships). Do not edit by hand: regenerate."
        ),
        "generated_by": "tools/vectors/generate.py",
        "hash": {
            "algorithm": "HMAC-SHA-256, truncated to the first 16 bytes",
            "key_base64": base64.b64encode(KEY).decode("ascii"),
            "key_id": KEY_ID,
            "message": 'UTF-8 of "contactsync-v1" || 0x00 || kind || 0x00 || canonical',
            "digest_encoding": "base64url, no padding",
        },
    }
    # Pretty header, one case per line (diffs stay readable), invisible characters escaped.
    head = json.dumps(doc_head, indent=2, ensure_ascii=False)
    assert head.endswith("\n}")
    lines = [head[: -len("\n}")] + ',\n  "cases": [']
    lines.append(",\n".join("    " + corpus.dumps_visible(c) for c in cases))
    lines.append("  ]\n}\n")
    text = "\n".join(lines)
    json.loads(text)  # well-formed
    OUT.write_text(text, encoding="utf-8", newline="\n")

    regions = {c["region"]: None for c in cases if c["kind"] == "phone"}
    print(f"{len(PHONE)} phone cases in {len(regions)} regions "
          f"({sum('canonical' in c for c in cases if c['kind'] == 'phone')} valid), "
          f"{len(other)} other cases -> {OUT.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
