"""mime/authresults.py: the reader's summary of our own Authentication-Results field,
and nothing from anyone else's."""

from __future__ import annotations

import pytest

from groupware.mime.authresults import our_verdicts

OURS = (
    "Authentication-Results: mx.example.org;\r\n spf=pass smtp.mailfrom=a@b.example;\r\n"
    " dkim=fail header.d=b.example;\r\n dkim=pass header.d=b.example header.s=s1;\r\n"
    " dmarc=fail (p=reject) header.from=b.example\r\n"
)


def test_our_verdicts_are_read() -> None:
    verdicts = our_verdicts("Received: x\r\n" + OURS + "Subject: y\r\n", "MX.example.org")
    assert verdicts is not None
    assert verdicts.results == (("spf", "pass"), ("dkim", "pass"), ("dmarc", "fail"))
    assert verdicts.failed == ("dmarc",)


@pytest.mark.parametrize(
    "head",
    [
        "Subject: none\r\n",
        "Authentication-Results: evil.example; spf=pass; dkim=pass\r\n",  # not ours
        "Authentication-Results: mx.example.org.evil; spf=pass\r\n",
        "Authentication-Results:\r\n",
        "Authentication-Results",
        "",
    ],
)
def test_no_field_of_ours_is_no_verdict(head: str) -> None:
    assert our_verdicts(head, "mx.example.org") is None


def test_comments_and_garbage_claim_nothing() -> None:
    head = (
        "Authentication-Results: mx.example.org; (spf=fail) dkim=pass (dmarc=fail (x)) ;;; ==\r\n"
    )
    verdicts = our_verdicts(head, "mx.example.org")
    assert verdicts is not None and verdicts.results == (("dkim", "pass"),)
    huge = "Authentication-Results: mx.example.org; " + "spf=pass; " * 100_000
    assert our_verdicts(huge, "mx.example.org").failed == ()  # type: ignore[union-attr]
