import pytest

from escalation.services.pager.signing import SignatureError, new_secret, sign, verify

# The Standard Webhooks reference test vector.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
STAMP = 1614265330
BODY = b'{"test": 2432232314}'
EXPECTED = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def headers(signature=EXPECTED, stamp=STAMP, msg_id=MSG_ID):
    return {"webhook-id": msg_id, "webhook-timestamp": str(stamp), "webhook-signature": signature}


def test_signature_matches_the_reference_vector():
    assert sign(SECRET, MSG_ID, STAMP, BODY) == EXPECTED


def test_verify_accepts_any_of_several_signatures():
    assert verify(SECRET, headers(f"v1,bogus {EXPECTED}"), BODY, STAMP + 10) == MSG_ID


@pytest.mark.parametrize(
    ("hdrs", "body", "now", "message"),
    [
        (headers(), BODY + b" ", STAMP, "no matching v1 signature"),
        (headers(), BODY, STAMP + 301, "outside the tolerance"),
        (headers(msg_id="msg_other"), BODY, STAMP, "no matching v1 signature"),
        ({"webhook-id": MSG_ID}, BODY, STAMP, "missing"),
        (headers(stamp="soon"), BODY, STAMP, "not an integer"),
    ],
)
def test_verify_rejects_tampering_and_replays(hdrs, body, now, message):
    with pytest.raises(SignatureError, match=message):
        verify(SECRET, hdrs, body, now)


def test_new_secrets_are_usable_and_distinct():
    a, b = new_secret(), new_secret()
    assert a != b and a.startswith("whsec_")
    assert verify(a, headers(sign(a, MSG_ID, STAMP, BODY)), BODY, STAMP) == MSG_ID
