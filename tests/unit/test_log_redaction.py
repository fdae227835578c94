"""uvicorn's log lines carry query strings: secrets in them are blanked."""

import logging

from app.origins import RedactSecrets, redact


def test_token_and_ticket_values_are_blanked() -> None:
    assert redact("/ws/fleet?token=esk_abc&after=1-0") == (
        "/ws/fleet?token=[redacted]&after=1-0"
    )
    assert redact("/ws/runs/x?after=0-0&ticket=T1") == (
        "/ws/runs/x?after=0-0&ticket=[redacted]"
    )
    assert redact("/api/v1/runs?label=token=1") == "/api/v1/runs?label=token=1"


def test_the_filter_rewrites_uvicorns_access_record() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:1", "GET", "/ws/fleet?token=esk_secret", "1.1", 200),
        None,
    )
    assert RedactSecrets().filter(record)
    assert "esk_secret" not in record.getMessage()
