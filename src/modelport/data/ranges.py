"""Byte ranges of downloads: the single-range subset of HTTP `Range: bytes=...` (RFC 9110, 14.1).

Clients resume downloads and read file headers with one range; several ranges in one request are
rare and are answered with the whole file, which RFC 9110 allows.
"""

import re
from dataclasses import dataclass

from modelport.data.errors import InvalidRange

_SINGLE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


class UnsatisfiableRange(InvalidRange):
    """No byte of the requested range exists; the answer is 416 with `Content-Range: bytes */<size>`."""

    def __init__(self, header: str, size: int) -> None:
        super().__init__(f"range {header.strip()!r} is outside the file's {size} bytes")
        self.size = size


@dataclass(frozen=True, slots=True)
class ByteRange:
    """`bytes=first-last` (both inclusive), `bytes=first-` or, with `first` None, the suffix `bytes=-last`."""

    header: str
    first: int | None
    last: int | None

    def resolve(self, size: int) -> tuple[int, int]:
        """`(start, end)` with `end` exclusive, clamped to `size`; raises UnsatisfiableRange."""
        if self.first is None:
            assert self.last is not None
            if self.last == 0 or size == 0:
                raise UnsatisfiableRange(self.header, size)
            return max(size - self.last, 0), size
        if self.first >= size:
            raise UnsatisfiableRange(self.header, size)
        end = size if self.last is None else min(self.last + 1, size)
        return self.first, end


def parse_range(header: str | None) -> ByteRange | None:
    """The range asked for, or None to send the whole file (no header, several ranges, or malformed:
    RFC 9110 says a server ignores a Range it does not understand)."""
    if not header:
        return None
    match = _SINGLE.match(header)
    if match is None:
        return None
    first, last = match.group(1), match.group(2)
    if not first and not last:
        return None
    if not first:
        return ByteRange(header, None, int(last))
    if last and int(last) < int(first):
        return None
    return ByteRange(header, int(first), int(last) if last else None)
