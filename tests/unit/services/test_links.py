"""Signed ack and resolve links: every field is covered by the signature, keys rotate."""

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from escalation.schemas import PageRequest, page_id_for
from escalation.services.common.links import LinkClaim, LinkError, new_key, sign, verify
from escalation.services.pager.targets.base import Links

OLD, NEW = new_key(), new_key()
ESCALATION = "e1.Qy0xMDQy.748fe2ba78cbb60d56867b46.1"
OTHER = "e1.Qy0xMDQy.748fe2ba78cbb60d56867b46.2"
EXPIRES = 1_800_000_000
CLAIM = LinkClaim(ESCALATION, "ack", 1, EXPIRES, "ops-webhook")


def token(claim: LinkClaim = CLAIM, key: str = NEW) -> str:
    return sign(key, claim)


def refused(token_text: str, escalation_id: str = ESCALATION, action: str = "ack", **kw) -> str:
    with pytest.raises(LinkError) as failure:
        verify(kw.get("keys", [NEW]), token_text, escalation_id, action, kw.get("now", 0))
    return failure.value.reason


def test_a_signed_link_verifies_to_its_claim_and_names_its_target():
    claim = verify([NEW], token(), ESCALATION, "ack", EXPIRES - 1)
    assert claim == CLAIM
    assert claim.principal == "link:ops-webhook"
    assert token().startswith("l1.1.1800000000.ops-webhook.")


def replace_part(text: str, index: int, value: str) -> str:
    version, level, expires, rest = text.split(".", 3)
    target, _, mac = rest.rpartition(".")
    parts = [version, level, expires, target, mac]
    parts[index] = value
    return ".".join(parts)


@pytest.mark.parametrize(
    ("index", "value"),
    [(1, "2"), (1, "0"), (2, str(EXPIRES + 86400)), (3, "other-target"), (3, "ops-webhook2")],
    ids=["level-up", "level-down", "expiry", "target", "target-suffix"],
)
def test_changing_any_field_breaks_the_signature(index, value):
    assert refused(replace_part(token(), index, value)) == "signature"


def test_a_changed_mac_or_version_is_refused():
    mac = token().rpartition(".")[2]
    flipped = ("A" if mac[0] != "A" else "B") + mac[1:]
    assert refused(replace_part(token(), 4, flipped)) == "signature"
    assert refused(replace_part(token(), 0, "l2")) == "malformed"


def test_a_link_works_only_for_its_escalation_and_action():
    assert refused(token(), escalation_id=OTHER) == "signature"
    assert refused(token(), action="resolve") == "signature"
    resolve = token(LinkClaim(ESCALATION, "resolve", 1, EXPIRES, "ops-webhook"))
    assert verify([NEW], resolve, ESCALATION, "resolve", 0).action == "resolve"
    assert refused(resolve, action="ack") == "signature"
    assert refused(resolve, action="reopen") == "signature"


def test_a_link_expires_at_its_expiry():
    assert verify([NEW], token(), ESCALATION, "ack", EXPIRES - 1) == CLAIM
    assert refused(token(), now=EXPIRES) == "expired"
    assert refused(token(), now=EXPIRES + 3600) == "expired"


def test_keys_rotate_sign_with_the_first_verify_with_any():
    old = token(key=OLD)
    assert verify([NEW, OLD], old, ESCALATION, "ack", 0) == CLAIM
    assert verify([NEW, OLD], token(key=NEW), ESCALATION, "ack", 0) == CLAIM
    assert refused(old, keys=[NEW]) == "signature"
    assert refused(token(), keys=[]) == "signature"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "l1",
        "l1.1.1800000000.ops-webhook",
        "l1.01.1800000000.ops-webhook." + "A" * 43,
        "l1.1.+1800000000.ops-webhook." + "A" * 43,
        "l1.1.1800000000.ops/webhook." + "A" * 43,
        "l1.1.1800000000..." + "A" * 43,
        "l1.-1.1800000000.ops-webhook." + "A" * 43,
        "l1.1.1800000000.ops-webhook." + "A" * 42,
    ],
)
def test_malformed_tokens_are_refused_before_any_mac(text):
    assert refused(text) == "malformed"


def test_signing_refuses_what_a_link_cannot_carry():
    with pytest.raises(ValueError, match="links are made for"):
        sign(NEW, LinkClaim(ESCALATION, "reassign", 1, EXPIRES, "ops-webhook"))
    with pytest.raises(ValueError, match="cannot be carried"):
        sign(NEW, LinkClaim(ESCALATION, "ack", 1, EXPIRES, "ops webhook"))


def page(level: int = 1, created_at: datetime | None = None) -> PageRequest:
    return PageRequest(
        page_id=page_id_for(ESCALATION, level, "trigger"),
        escalation_id=ESCALATION,
        dedup_key=ESCALATION,
        level=level,
        reason="urgency.critical",
        customer_id="C-1042",
        customer_tier="vip",
        category="av.projector",
        owner="elif",
        team="vip-desk",
        created_at=created_at or datetime(2026, 11, 24, 14, 0, tzinfo=UTC),
    )


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def test_the_pagers_links_are_signed_per_target_and_expire_a_ttl_after_the_page():
    links = Links("https://intake.example", NEW, timedelta(days=7))
    ack = links.ack(page(level=2), "ops-webhook")
    assert urlsplit(ack).path == f"/v1/escalations/{ESCALATION}/ack"
    made = int(datetime(2026, 11, 24, 14, 0, tzinfo=UTC).timestamp())
    claim = verify([NEW], token_of(ack), ESCALATION, "ack", made)
    assert (claim.level, claim.target) == (2, "ops-webhook")
    assert claim.expires == made + 7 * 86400
    resolve = links.resolve(page(level=2), "ops-webhook")
    assert verify([NEW], token_of(resolve), ESCALATION, "resolve", made).action == "resolve"
    assert token_of(links.ack(page(level=2), "vip-email")) != token_of(ack)
    # The same page always gets the same links: a retry or replay sends the same body.
    assert links.ack(page(level=2), "ops-webhook") == ack


def test_without_a_key_the_links_are_the_bare_api_endpoints():
    links = Links("http://127.0.0.1:8080")
    assert links.ack(page(), "ops-webhook") == (
        f"http://127.0.0.1:8080/v1/escalations/{ESCALATION}/ack"
    )
