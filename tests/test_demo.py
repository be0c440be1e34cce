"""The demo's TOTP, checked against RFC 6238's own test vectors (Appendix B, SHA-1)."""

from __future__ import annotations

import importlib.util

import pytest

from tests.helpers import ROOT

spec = importlib.util.spec_from_file_location("demo_aws", ROOT / "scripts" / "demo_aws.py")
assert spec
assert spec.loader
demo_aws = importlib.util.module_from_spec(spec)
spec.loader.exec_module(demo_aws)

# The RFC's SHA-1 seed is the ASCII "12345678901234567890"; in base32, as IAM hands seeds out:
SEED = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


@pytest.mark.parametrize(
    ("at", "code"),
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
    ],
)
def test_totp_matches_rfc_6238(at: int, code: str):
    assert demo_aws.totp(SEED, at=at, digits=8) == code
    assert demo_aws.totp(SEED, at=at) == code[-6:]
