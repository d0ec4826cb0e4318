"""Link tokens and codes (docs/rules.md §4.3, §4.4): bound to one invitation and round, 128 random
bits, expiring at the round's close; every way a token can be wrong is refused with
its own error, and keys rotate without breaking links already sent."""
from __future__ import annotations

from collections import Counter

import base64
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sms.tokens import (
    CODE_ALPHABET,
    LinkTokens,
    TokenExpired,
    TokenInvalid,
    is_code,
    new_code,
    new_nonce,
    normalize_code,
    same_nonce,
)

NOW = datetime(2021, 6, 1, 9, 0, tzinfo=timezone.utc)
CLOSES = datetime(2021, 6, 30, 13, 0, tzinfo=timezone.utc)


def test_a_token_names_its_invitation_round_and_nonce():
    tokens = LinkTokens("key-1")
    token, nonce = tokens.issue(4711, 3, CLOSES)
    claim = tokens.read(token, now=NOW)
    assert (claim.invitation_id, claim.round_id, claim.nonce, claim.expires_at) == (4711, 3, nonce, CLOSES)
    assert same_nonce(claim.nonce, nonce) and not same_nonce(new_nonce(), nonce)
    # URL-safe: it goes into a link as it is.
    assert all(ch.isalnum() or ch in "-_." for ch in token)


def test_the_nonce_carries_128_random_bits():
    nonces = {new_nonce() for _ in range(1000)}
    assert len(nonces) == 1000
    assert all(len(base64.urlsafe_b64decode(n + "==")) == 16 for n in nonces)
    tokens = LinkTokens("key-1")
    # Two invitations' tokens differ even for the same ids (a fresh nonce each time).
    assert tokens.issue(1, 1, CLOSES)[0] != tokens.issue(1, 1, CLOSES)[0]


def test_expired_at_the_rounds_close():
    tokens = LinkTokens("key-1")
    token, _ = tokens.issue(1, 1, CLOSES)
    assert tokens.read(token, now=CLOSES - timedelta(seconds=1)).invitation_id == 1
    with pytest.raises(TokenExpired) as caught:
        tokens.read(token, now=CLOSES)
    assert "已截止" in str(caught.value)


@pytest.mark.parametrize(
    "spoil",
    [
        # signature changed (not its last character, whose low bits are base64 padding)
        lambda t: t[:-2] + ("A" if t[-2] != "A" else "B") + t[-1],
        lambda t: t[:20],  # truncated
        lambda t: "",  # empty
        lambda t: t + "x",
        lambda t: "." + t,
        lambda t: t.replace(".", "", 1),  # payload and signature run together
        lambda t: "x" * 600,  # too long to be ours
    ],
)
def test_tampered_and_truncated_tokens_are_invalid(spoil):
    tokens = LinkTokens("key-1")
    token, _ = tokens.issue(1, 1, CLOSES)
    with pytest.raises(TokenInvalid) as caught:
        tokens.read(spoil(token), now=NOW)
    assert "链接无效" in str(caught.value)


def test_a_changed_payload_with_its_old_signature_is_invalid():
    tokens = LinkTokens("key-1")
    token, _ = tokens.issue(1, 1, CLOSES)
    other, _ = tokens.issue(2, 1, CLOSES)
    forged = other.split(".")[0] + "." + token.split(".")[1]
    with pytest.raises(TokenInvalid):
        tokens.read(forged, now=NOW)


def test_wrong_purpose_and_unknown_key_are_invalid():
    token, _ = LinkTokens("key-1", purpose="pingyi.evaluator-login").issue(1, 1, CLOSES)
    with pytest.raises(TokenInvalid):
        LinkTokens("key-1").read(token, now=NOW)
    token, _ = LinkTokens("retired-key").issue(1, 1, CLOSES)
    with pytest.raises(TokenInvalid):
        LinkTokens(["key-1", "key-2"]).read(token, now=NOW)


def test_keys_rotate_without_breaking_links_already_sent():
    before = LinkTokens(["key-1"])
    after = LinkTokens(["key-1", "key-2"])
    old, _ = before.issue(1, 1, CLOSES)
    new, _ = after.issue(2, 1, CLOSES)
    assert after.read(old, now=NOW).invitation_id == 1
    assert after.read(new, now=NOW).invitation_id == 2
    with pytest.raises(TokenInvalid):
        before.read(new, now=NOW)  # signed with the newest key only
    with pytest.raises(ValueError):
        LinkTokens([])
    with pytest.raises(ValueError):
        before.issue(1, 1, datetime(2021, 6, 30, 13, 0))  # a naive close time is ambiguous


def test_a_well_signed_payload_of_the_wrong_shape_is_invalid():
    from itsdangerous import URLSafeSerializer

    from sms.tokens import LINK_PURPOSE

    for payload in ({"i": 1}, [1, 2, 3], ["1", 2, "n", 9999999999], [True, 2, "n", 9999999999]):
        token = URLSafeSerializer(["key-1"], salt=LINK_PURPOSE).dumps(payload)
        with pytest.raises(TokenInvalid):
            LinkTokens("key-1").read(token, now=NOW)


def test_codes_are_random_typeable_and_read_back_loosely():
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(c) == 8 and set(c) <= set(CODE_ALPHABET) for c in codes)
    assert not set("0O1IL") & set(CODE_ALPHABET)
    code = sorted(codes)[0]
    typed = " ".join([code[:4].lower(), code[4:]]).translate({ord(c): ord(c) + 0xFEE0 for c in "23456789"})
    assert normalize_code(typed) == code and is_code(typed)
    assert not is_code(code[:7]) and not is_code(code + "2") and not is_code("0OIL2345")


def test_every_symbol_of_a_code_is_equally_likely():
    # 80,000 symbols, 2,580.6 expected of each (sd about 50): a generator that favoured
    # some symbols, as `byte % 31` over all 256 bytes does by 12 %, is far outside.
    counts = Counter("".join(new_code() for _ in range(10_000)))
    expected = 80_000 / len(CODE_ALPHABET)
    assert set(counts) == set(CODE_ALPHABET)
    assert all(abs(n - expected) < 300 for n in counts.values()), counts


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 2**31), st.integers(1, 2**31), st.text(max_size=40))
def test_any_invitation_round_trips_and_no_text_opens_one(invitation, round_id, junk):
    tokens = LinkTokens("key-1")
    token, nonce = tokens.issue(invitation, round_id, CLOSES)
    claim = tokens.read(token, now=NOW)
    assert (claim.invitation_id, claim.round_id, claim.nonce) == (invitation, round_id, nonce)
    with pytest.raises(TokenInvalid):
        tokens.read(junk, now=NOW)
