"""One `Range: bytes=...` header, as RFC 9110 (section 14) reads it.

A single range is honoured (206). Anything else a server may ignore is
ignored, and the whole content served (200): another unit, several ranges,
a syntax error. A range that starts past the end is refused (416).
"""

from dataclasses import dataclass

from app.errors import AppError


class RangeNotSatisfiable(AppError):
    status_code = 416
    code = "range_not_satisfiable"


@dataclass(frozen=True)
class ByteRange:
    first: int
    last: int  # inclusive

    @property
    def length(self) -> int:
        return self.last - self.first + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.first}-{self.last}/{size}"


def byte_range(header: str | None, size: int) -> ByteRange | None:
    """The range to serve; None: the whole content. Raises RangeNotSatisfiable."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    first, dash, last = spec.strip().partition("-")
    if unit.strip().lower() != "bytes" or not dash or "," in spec:
        return None
    if not all(part == "" or part.isdigit() for part in (first, last)):
        return None
    if first == "":
        return _suffix(int(last) if last else 0, size)
    start = int(first)
    if last and int(last) < start:
        return None  # invalid: ignored
    if start >= size:
        raise _unsatisfiable(size)
    end = int(last) if last else size - 1
    return ByteRange(start, min(end, size - 1))


def _suffix(length: int, size: int) -> ByteRange:
    """`bytes=-N`: the last N bytes."""
    if length <= 0 or size == 0:
        raise _unsatisfiable(size)
    return ByteRange(max(0, size - length), size - 1)


def _unsatisfiable(size: int) -> RangeNotSatisfiable:
    return RangeNotSatisfiable(
        f"The range starts past the end of the content ({size} bytes).",
        headers={"Content-Range": f"bytes */{size}"},
    )
