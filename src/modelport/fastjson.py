"""JSON on the call path: orjson when installed (several times faster), the standard library otherwise.

orjson reads integers beyond 64 bits as floats and refuses to write them: input with a run of 19 or more
digits, and such output, go through the standard library instead, which keeps them exact. Invalid input
falls back too, so error messages are the standard library's (with line and column).
"""

from __future__ import annotations

import json
import re
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency, but the code does not need it
    orjson = None


def _std_dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


if orjson is not None:

    _LONG = re.compile(rb"\d{19}")

    def loads(data: bytes) -> Any:
        if _LONG.search(data):
            return json.loads(data)
        try:
            return orjson.loads(data)
        except ValueError:
            return json.loads(data)

    def dumps(value: Any) -> bytes:
        try:
            return orjson.dumps(value)
        except TypeError:
            return _std_dumps(value)
else:
    loads = json.loads
    dumps = _std_dumps
