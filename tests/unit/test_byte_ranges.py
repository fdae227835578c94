"""`Range` headers as RFC 9110 reads them: one range honoured, what a server
may ignore ignored (the whole content), a range past the end refused (416)."""

import pytest

from app.artifacts.ranges import ByteRange, RangeNotSatisfiable, byte_range

SIZE = 1000


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", ByteRange(0, 99)),
        ("bytes=900-", ByteRange(900, 999)),
        ("bytes=900-5000", ByteRange(900, 999)),
        ("bytes=-100", ByteRange(900, 999)),
        ("bytes=-5000", ByteRange(0, 999)),
        ("BYTES = 5-5", ByteRange(5, 5)),
    ],
)
def test_one_range_is_honoured(header: str, expected: ByteRange) -> None:
    assert byte_range(header, SIZE) == expected


@pytest.mark.parametrize(
    "header",
    [None, "", "items=0-1", "bytes=0-1,5-6", "bytes=5-1", "bytes=a-b", "bytes=+1-2"],
)
def test_what_may_be_ignored_is_ignored(header: str | None) -> None:
    assert byte_range(header, SIZE) is None


@pytest.mark.parametrize(
    ("header", "size"), [("bytes=1000-", 1000), ("bytes=-0", 1000), ("bytes=0-", 0)]
)
def test_a_range_past_the_end_is_refused(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable) as raised:
        byte_range(header, size)
    assert raised.value.status_code == 416
    assert raised.value.headers == {"Content-Range": f"bytes */{size}"}


def test_content_range_header() -> None:
    part = ByteRange(10, 19)
    assert part.length == 10 and part.content_range(SIZE) == "bytes 10-19/1000"
