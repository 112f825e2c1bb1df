#!/usr/bin/env python3
"""Generate tests/vectors/phone_corpus.jsonl: phone inputs with Google libphonenumber's verdict.

The oracle is Python `phonenumbers` (a port of libphonenumber) at the metadata version that
`rlibphonenumber` ships, pinned in requirements.txt beside this file. Each line of the output is

    {"region": "DE", "input": "0172 3127130", "e164": "+491723127130"}
    {"region": "DE", "input": "112", "error": "too_short"}

with exactly the semantics of `contactsync_core::identifier::phone::normalize`:

    parse(input, region)                      failure -> not_a_number | invalid_country_code
                                                         | too_short | too_long
    is_valid_number                           no      -> is_possible_number_with_reason:
                                                         IS_POSSIBLE[_LOCAL_ONLY] -> unassigned,
                                                         INVALID_COUNTRY_CODE, TOO_SHORT, TOO_LONG,
                                                         INVALID_LENGTH -> the same name
    format_number(E164)                       yes     -> "e164"
    (more than 1024 UTF-8 bytes: input_too_long before parsing)

The run is deterministic: one seeded `random.Random`, lists and insertion-ordered dicts only (no
set or hash order), so the same phonenumbers version gives a byte-identical file. A sidecar
`phone_corpus.meta.json` records the generator, seed, oracle version and counts.

Usage (from the repository root):
    tools/phone-corpus/.venv/bin/python tools/phone-corpus/generate.py
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import phonenumbers
from phonenumbers import (
    NumberParseException,
    PhoneMetadata,
    PhoneNumberFormat,
    PhoneNumberType,
    ValidationResult,
)

# The metadata version rlibphonenumber =2.2.15 ships (core/src/identifier/phone.rs METADATA_VERSION).
ORACLE_VERSION = "9.0.42"
SEED = 20261101
MAX_RAW_LEN = 1024  # bytes; core/src/identifier/mod.rs MAX_RAW_LEN

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "vectors" / "phone_corpus.jsonl"
META = ROOT / "tests" / "vectors" / "phone_corpus.meta.json"

# Default regions the corpus is read in. Order matters (it drives the random stream).
REGIONS = [
    "US", "CA", "GB", "DE", "FR", "IT", "ES", "NL", "BE", "CH", "AT", "SE", "NO", "DK", "FI",
    "PL", "CZ", "PT", "IE", "RU", "UA", "TR", "IN", "PK", "BD", "CN", "JP", "KR", "SG", "MY",
    "ID", "PH", "VN", "TH", "AU", "NZ", "BR", "MX", "AR", "CO", "CL", "ZA", "NG", "KE", "EG",
    "MA", "AE", "SA", "IL", "GR", "HU", "RO", "HK", "TW", "IR",
]

NUMBER_TYPES = [
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.MOBILE,
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE,
    PhoneNumberType.SHARED_COST,
    PhoneNumberType.VOIP,
    PhoneNumberType.PERSONAL_NUMBER,
    PhoneNumberType.PAGER,
    PhoneNumberType.UAN,
    PhoneNumberType.VOICEMAIL,
]

NON_GEO_CODES = [800, 808, 870, 878, 881, 882, 883, 888, 979]

# Digit sets that libphonenumber reads (Unicode Nd); ASCII first.
DIGIT_SETS = {
    "fullwidth": 0xFF10,
    "arabic_indic": 0x0660,
    "ext_arabic_indic": 0x06F0,
    "devanagari": 0x0966,
    "bengali": 0x09E6,
    "thai": 0x0E50,
}

EXTENSIONS = [
    " ext. {e}", " ext {e}", " x{e}", " x {e}", " #{e}", ";ext={e}", " extension {e}",
    " Ext. {e}", " X{e}", ",{e}", " доб. {e}", " extn {e}", "#{e}",
]

EMERGENCY_AND_SHORT = [
    "112", "911", "999", "110", "119", "000", "100", "101", "102", "103", "15", "17", "18",
    "118", "1234", "08", "061", "911 ", "(112)", "11 2", "19", "0800", "116 000", "116111",
    "3131", "5555", "22222", "411", "611", "*123#", "#31#", "*#06#", "*100#",
]

VANITY = [
    "1-800-FLOWERS", "1 800 GOT JUNK", "1-800-CONTACTS", "+1 800 FLOWERS", "1-888-NEW-CARS",
    "0800 DHL PAKET", "0800-HOTLINE", "1-800-MY-APPLE", "(800) FLOWERS", "1800 FLOWERS",
    "0900 CALL ME", "+44 800 BIG BOX", "tel:+1-800-FLOWERS", "1-800-flowers",
    "+49 800 HOTLINE1", "CALL 030 1234567", "phone: +49 30 1234567", "Tel. 030 1234567",
    "abc", "hello", "N/A", "none", "unknown", "ask me", "x", "ext. 12", "#12",
]

GARBAGE = [
    "", " ", "   ", "\t", "\n", "+", "++", "+ ", " + ", "-", "--", "---", "()", "( )", "(+)",
    "...", "./-", "+-+", "#", "*", "+()", "//", "tel:", "tel:+", "tel:;ext=1", "+ - ( ) .",
    "00", "000", "0", "1", "+0", "+00", "+1", "+49", "+49 ", "0049", "011", "+++49 30 1234567",
    "++49 30 1234567", "+-49 30 1234567", "(((030)))", "#030 1234567", "*030 1234567",
    "0\u00a0", "\u00a0", "\u3000", "\u200b", "+\u200b", "1e10", "-1234567", "12,34", "NaN",
    "\ufeff", "\ufeff+49 30 1234567", "+\ufeff49 30 1234567",
    # Two digits and an extension: libphonenumber (Java, Python) calls it not a number,
    # rlibphonenumber reads the extension first (a reason-code difference only).
    "12 ext. 3", "99,5", "12;ext=7",
]


def oracle(raw: str, region: str) -> dict:
    """The verdict of libphonenumber (Python port) with normalize()'s semantics."""
    if len(raw.encode("utf-8")) > MAX_RAW_LEN:
        return {"error": "input_too_long"}
    try:
        number = phonenumbers.parse(raw, region)
    except NumberParseException as e:
        return {
            "error": {
                NumberParseException.INVALID_COUNTRY_CODE: "invalid_country_code",
                NumberParseException.NOT_A_NUMBER: "not_a_number",
                NumberParseException.TOO_SHORT_AFTER_IDD: "too_short",
                NumberParseException.TOO_SHORT_NSN: "too_short",
                NumberParseException.TOO_LONG: "too_long",
            }[e.error_type]
        }
    if not phonenumbers.is_valid_number(number):
        reason = phonenumbers.is_possible_number_with_reason(number)
        return {
            "error": {
                ValidationResult.IS_POSSIBLE: "unassigned",
                ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "unassigned",
                ValidationResult.INVALID_COUNTRY_CODE: "invalid_country_code",
                ValidationResult.TOO_SHORT: "too_short",
                ValidationResult.TOO_LONG: "too_long",
                ValidationResult.INVALID_LENGTH: "invalid_length",
            }[reason]
        }
    return {"e164": phonenumbers.format_number(number, PhoneNumberFormat.E164)}


def dumps_visible(obj) -> str:
    """Compact JSON, UTF-8, but with every non-printable character (NUL, RTL marks, NBSP,
    zero-width space, BOM, ...) escaped as \\uXXXX so that a reader sees it."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    out = []
    for ch in text:
        if ch.isprintable():
            out.append(ch)
        else:
            out.append(json.dumps(ch)[1:-1])  # ensure_ascii escape, surrogate pairs included
    return "".join(out)


class Number:
    """A number to write out: calling code, national significant number (digits, with any
    Italian leading zero) and the region whose metadata formats it."""

    def __init__(self, cc: int, nsn: str, region: str | None):
        self.cc = cc
        self.nsn = nsn
        self.region = region
        try:
            self.parsed = phonenumbers.parse(f"+{cc}{nsn}", None)
        except NumberParseException:
            self.parsed = None

    def fmt(self, kind) -> str | None:
        if self.parsed is None:
            return None
        return phonenumbers.format_number(self.parsed, kind)


def metadata(region: str):
    return PhoneMetadata.metadata_for_region(region)


def own_idd(region: str) -> str | None:
    """The international prefix people in `region` dial, when it is a fixed digit string."""
    m = metadata(region)
    if m.preferred_international_prefix:
        return m.preferred_international_prefix.replace("~", "")
    if m.international_prefix and m.international_prefix.isdigit():
        return m.international_prefix
    return None


class Gen:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.lines: list[tuple[str, str]] = []
        self.seen: dict[tuple[str, str], None] = {}
        self.examples: dict[str, list[Number]] = {}
        for region in REGIONS + ["DO", "JM", "PR", "LU", "IS", "EE", "LV", "LT", "SK", "SI",
                                 "HR", "RS", "BG", "CY", "MT", "KZ", "BY", "GE", "QA", "KW",
                                 "JO", "LB", "PE", "VE", "EC", "UY", "GH", "TZ", "UG", "ET",
                                 "DZ", "TN", "LK", "NP", "MM", "KH", "MO", "FJ"]:
            self.examples[region] = self._examples_for(region)
        self.non_geo = []
        for cc in NON_GEO_CODES:
            ex = phonenumbers.example_number_for_non_geo_entity(cc)
            if ex is not None:
                self.non_geo.append(Number(cc, phonenumbers.national_significant_number(ex), None))

    @staticmethod
    def _examples_for(region: str) -> list[Number]:
        out = []
        for t in NUMBER_TYPES:
            ex = phonenumbers.example_number_for_type(region, t)
            if ex is None:
                continue
            nsn = phonenumbers.national_significant_number(ex)
            if any(n.nsn == nsn for n in out):
                continue
            out.append(Number(ex.country_code, nsn, region))
        return out

    def add(self, region: str, raw: str) -> None:
        key = (region, raw)
        if key in self.seen:
            return
        self.seen[key] = None
        self.lines.append(key)

    # ---- number variants ------------------------------------------------------------------

    def vary(self, n: Number, max_tail: int = 4) -> Number:
        """The same number with its last 1..max_tail digits replaced at random."""
        k = self.rng.randint(1, min(max_tail, max(1, len(n.nsn) - 2)))
        tail = "".join(self.rng.choice("0123456789") for _ in range(k))
        return Number(n.cc, n.nsn[:-k] + tail, n.region)

    def truncated(self, n: Number) -> Number:
        k = self.rng.randint(1, 3)
        return Number(n.cc, n.nsn[: max(1, len(n.nsn) - k)], n.region)

    def extended(self, n: Number) -> Number:
        k = self.rng.randint(1, 3)
        return Number(n.cc, n.nsn + "".join(self.rng.choice("0123456789") for _ in range(k)),
                      n.region)

    def unassigned(self, n: Number) -> Number:
        """Same length, leading digits replaced: often a range the region does not assign."""
        k = self.rng.randint(1, 3)
        head = "".join(self.rng.choice("0123456789") for _ in range(k))
        return Number(n.cc, head + n.nsn[k:], n.region)

    # ---- writers --------------------------------------------------------------------------

    def group(self, digits: str) -> list[str]:
        groups, i = [], 0
        while i < len(digits):
            step = self.rng.randint(2, 4)
            groups.append(digits[i : i + step])
            i += step
        return groups

    def national_prefix(self, n: Number) -> str:
        if n.region is None:
            return ""
        return metadata(n.region).national_prefix or ""

    def write(self, n: Number, default: str, style: str) -> str | None:
        rng = self.rng
        cc, nsn = str(n.cc), n.nsn
        if style == "e164":
            return f"+{cc}{nsn}"
        if style == "intl":
            return n.fmt(PhoneNumberFormat.INTERNATIONAL)
        if style == "intl_grouped":
            return "+" + cc + " " + " ".join(self.group(nsn))
        if style == "national":
            return n.fmt(PhoneNumberFormat.NATIONAL)
        if style == "national_plain":
            return self.national_prefix(n) + nsn
        if style == "national_grouped":
            return " ".join(self.group(self.national_prefix(n) + nsn))
        if style == "own_idd":
            idd = own_idd(default)
            if idd is None:
                return None
            sep = rng.choice([" ", "", "-", " "])
            return idd + sep + cc + sep + " ".join(self.group(nsn))
        if style == "foreign_idd":
            idd = rng.choice(["00", "011", "0011", "010", "001", "8 10", "810", "000", "009", "0"])
            sep = rng.choice([" ", "", "-"])
            return idd + sep + cc + sep + nsn
        if style in ("dots", "dashes", "slashes", "en_dash", "nbsp", "minus_sign"):
            sep = {"dots": ".", "dashes": "-", "slashes": "/", "en_dash": "\u2013",
                   "nbsp": "\u00a0", "minus_sign": "\u2212"}[style]
            base = n.fmt(rng.choice([PhoneNumberFormat.INTERNATIONAL, PhoneNumberFormat.NATIONAL]))
            if base is None:
                return None
            return base.replace(" ", sep).replace("-", sep)
        if style == "slash_area":
            nat = n.fmt(PhoneNumberFormat.NATIONAL)
            if nat is None or " " not in nat:
                return None
            head, rest = nat.split(" ", 1)
            return head + "/" + rest.replace(" ", "")
        if style == "parens_area":
            groups = self.group(nsn)
            if len(groups) < 2:
                return None
            if rng.random() < 0.5:
                return f"+{cc} ({groups[0]}) " + " ".join(groups[1:])
            return f"({self.national_prefix(n)}{groups[0]}) " + "-".join(groups[1:])
        if style == "intl_trunk_zero":
            np_ = self.national_prefix(n) or "0"
            return f"+{cc} ({np_}) " + " ".join(self.group(nsn))
        if style == "tel":
            return n.fmt(PhoneNumberFormat.RFC3966)
        if style == "tel_ext":
            t = n.fmt(PhoneNumberFormat.RFC3966)
            return None if t is None else t + f";ext={rng.randint(1, 9999)}"
        if style == "tel_context":
            return f"tel:{self.national_prefix(n)}{nsn};phone-context=+{cc}"
        if style == "tel_plain":
            return rng.choice(["tel:", "TEL:", "tel:+", "tel: "]) + cc + nsn
        if style == "padded":
            return rng.choice([" ", "  ", "\t", "\n"]) + f"+{cc} {nsn}" + rng.choice(
                [" ", "", "\n", " \t"])
        if style == "international_prefix_plus_space":
            return f"+ {cc} {nsn}"
        raise ValueError(style)

    def digits_to(self, s: str, script: str) -> str:
        base = DIGIT_SETS[script]
        out = "".join(chr(base + int(c)) if c.isdigit() and c.isascii() else c for c in s)
        if script == "fullwidth" and self.rng.random() < 0.5:
            out = out.replace("+", "\uff0b")
        return out

    def with_extension(self, s: str) -> str:
        e = str(self.rng.randint(1, 99999))
        return s + self.rng.choice(EXTENSIONS).format(e=e)

    def styled(self, n: Number, default: str, n_styles: int) -> None:
        """Add `n` written in `n_styles` random ways, read in `default`."""
        styles = [
            "e164", "intl", "intl_grouped", "national", "national_plain", "national_grouped",
            "own_idd", "foreign_idd", "dots", "dashes", "slashes", "slash_area", "parens_area",
            "intl_trunk_zero", "tel", "tel_ext", "tel_context", "tel_plain", "padded", "en_dash",
            "nbsp", "minus_sign", "international_prefix_plus_space",
        ]
        for _ in range(n_styles):
            s = self.write(n, default, self.rng.choice(styles))
            if s is None:
                continue
            r = self.rng.random()
            if r < 0.06:
                s = self.digits_to(s, "fullwidth")
            elif r < 0.09:
                s = self.digits_to(s, "arabic_indic")
            elif r < 0.11:
                s = self.digits_to(s, "ext_arabic_indic")
            elif r < 0.115:
                s = self.digits_to(s, self.rng.choice(["devanagari", "bengali", "thai"]))
            if self.rng.random() < 0.1 and not s.startswith("tel:"):
                s = self.with_extension(s)
            self.add(default, s)

    def international_forms(self, n: Number, default: str) -> None:
        """A number of another region (or a non-geographic one) written internationally."""
        style = self.rng.choice(["e164", "intl", "intl_grouped", "own_idd", "tel", "dashes",
                                 "dots", "intl_trunk_zero", "foreign_idd"])
        s = self.write(n, default, style)
        if s is not None:
            self.add(default, s)

    # ---- the corpus -----------------------------------------------------------------------

    def region_block(self, region: str) -> None:
        rng = self.rng
        examples = self.examples[region]
        # 1. The example numbers of every type, in many writings.
        for ex in examples:
            self.styled(ex, region, 9)
        # 2. Random numbers derived from the examples (trailing digits varied).
        for _ in range(55):
            self.styled(self.vary(rng.choice(examples)), region, 2)
        # 3. Invalid variants of real-looking numbers.
        for make in (self.truncated, self.extended, self.unassigned):
            for _ in range(10):
                self.styled(make(self.vary(rng.choice(examples))), region, 1)
        # 4. Numbers of other regions and non-geographic ones, written internationally.
        others = [r for r in self.examples if r != region]
        for _ in range(22):
            other = rng.choice(others)
            if not self.examples[other]:
                continue
            n = rng.choice(self.examples[other])
            self.international_forms(self.vary(n) if rng.random() < 0.7 else n, region)
        for _ in range(3):
            self.international_forms(self.vary(rng.choice(self.non_geo)), region)
        # Another region's number in its *national* form: misread here, as it would be.
        for _ in range(4):
            n = self.vary(rng.choice(self.examples[rng.choice(others)]))
            s = self.write(n, region, rng.choice(["national", "national_plain"]))
            if s:
                self.add(region, s)
        # 5. Short codes and emergency numbers (the region's own and common foreign ones).
        sm = PhoneMetadata.short_metadata_for_region(region)
        if sm is not None:
            for desc in (sm.emergency, sm.short_code, sm.toll_free, sm.standard_rate,
                         sm.premium_rate, sm.carrier_specific, sm.sms_services):
                if desc is not None and desc.example_number:
                    self.add(region, desc.example_number)
        for code in rng.sample(EMERGENCY_AND_SHORT, 8):
            self.add(region, code)
        # 6. Random digit strings of every length, some with a plus.
        for _ in range(14):
            length = rng.randint(1, 20)
            digits = "".join(rng.choice("0123456789") for _ in range(length))
            self.add(region, rng.choice(["", "", "+", "0", "00"]) + digits)
        # 7. Letters, vanity numbers, garbage.
        for s in rng.sample(VANITY, 3):
            self.add(region, s)
        for s in rng.sample(GARBAGE, 5):
            self.add(region, s)
        # 8. Very long digit runs: over libphonenumber's 250-character bound, and a few over
        #    our 1024-byte bound.
        for _ in range(2):
            self.add(region, "".join(rng.choice("0123456789") for _ in range(rng.randint(21, 400))))
        if rng.random() < 0.15:
            self.add(region, "+" + "".join(rng.choice("0123456789") for _ in range(rng.randint(1025, 1300))))

    def run(self) -> None:
        for region in REGIONS:
            self.region_block(region)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--meta", type=Path, default=META)
    ap.add_argument("--allow-version-mismatch", action="store_true",
                    help="run with a phonenumbers version other than the pinned one")
    args = ap.parse_args()

    if phonenumbers.__version__ != ORACLE_VERSION and not args.allow_version_mismatch:
        print(f"phonenumbers {phonenumbers.__version__} is installed, the corpus is pinned to "
              f"{ORACLE_VERSION} (see README.md)", file=sys.stderr)
        return 1

    gen = Gen(SEED)
    gen.run()

    regions: dict[str, int] = {}
    verdicts: dict[str, int] = {}
    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        for region, raw in gen.lines:
            obj = {"region": region, "input": raw}
            obj.update(oracle(raw, region))
            f.write(dumps_visible(obj) + "\n")
            regions[region] = regions.get(region, 0) + 1
            v = "valid" if "e164" in obj else obj["error"]
            verdicts[v] = verdicts.get(v, 0) + 1

    meta = {
        "generator": "tools/phone-corpus/generate.py",
        "seed": SEED,
        "oracle": {"package": "phonenumbers", "version": phonenumbers.__version__},
        "corpus": "tests/vectors/phone_corpus.jsonl",
        "lines": len(gen.lines),
        "regions": len(regions),
        "per_verdict": dict(sorted(verdicts.items(), key=lambda kv: -kv[1])),
        "per_region": regions,
    }
    with open(args.meta, "w", encoding="utf-8", newline="\n") as f:
        json.dump(meta, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"{len(gen.lines)} lines, {len(regions)} regions -> {args.out.relative_to(ROOT)}; "
          f"{verdicts}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
