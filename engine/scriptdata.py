"""Tagged JSON that carries diagram code's data between the engine and its script workers, and the frames it goes in.

Only what a case's stored state can hold passes: JSON values plus the dates, datetimes, timedeltas, Decimals and
UUIDs the engine's serializer knows, so a value that could not be saved is refused where the script left it.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

TAG = "$bianmin"
# A frame is a 4-byte length and that many bytes of JSON; a larger answer would fill the engine's memory.
MAX_FRAME_BYTES = 16 * 1024 * 1024
_LENGTH = struct.Struct(">I")
_PLAIN = (str, int, float, bool, type(None))


class Unstorable(ValueError):
    """A value that the case's stored state cannot hold; `name` is the variable it was found in."""

    def __init__(self, type_name: str, name: str = "") -> None:
        super().__init__(type_name)
        self.type_name = type_name
        self.name = name


def encode(value: Any) -> Any:
    """`value` as plain JSON, typed values tagged; raises Unstorable for anything else."""
    if isinstance(value, _PLAIN):
        return value
    if type(value) is dict:
        if TAG not in value and all(type(key) is str for key in value):
            return {key: encode(item) for key, item in value.items()}
        if not all(isinstance(key, (str, int)) for key in value):
            raise Unstorable(f"以 {_key_type(value)} 为键的字典")
        return {TAG: "dict", "v": [[key, encode(item)] for key, item in value.items()]}
    if type(value) in (list, tuple):
        return [encode(item) for item in value]
    if isinstance(value, datetime):
        return {TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, date):
        return {TAG: "date", "v": value.isoformat()}
    if isinstance(value, timedelta):
        return {TAG: "timedelta", "v": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, Decimal):
        return {TAG: "decimal", "v": str(value)}
    if isinstance(value, UUID):
        return {TAG: "uuid", "v": str(value)}
    raise Unstorable(type(value).__name__)


def _key_type(value: Mapping[Any, Any]) -> str:
    return next(type(key).__name__ for key in value if not isinstance(key, (str, int)))


_DECODERS = {
    "datetime": datetime.fromisoformat,
    "date": date.fromisoformat,
    "timedelta": lambda v: timedelta(days=v[0], seconds=v[1], microseconds=v[2]),
    "decimal": Decimal,
    "uuid": UUID,
    "dict": lambda v: {key: decode(item) for key, item in v},
}


def decode(value: Any) -> Any:
    if isinstance(value, list):
        return [decode(item) for item in value]
    if isinstance(value, dict):
        tag = value.get(TAG)
        if tag is not None:
            return _DECODERS[tag](value["v"])
        return {key: decode(item) for key, item in value.items()}
    return value


def encode_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """A task's variables encoded one by one, so a refusal names the variable that holds the bad value."""
    encoded = {}
    for name, value in data.items():
        try:
            encoded[name] = encode(value)
        except Unstorable as err:
            raise Unstorable(err.type_name, str(name)) from None
        except (RecursionError, ValueError):
            # Nested past the interpreter's depth, or an integer too long to write as text.
            raise Unstorable("嵌套过深或过大的值", str(name)) from None
    return encoded


def pack(message: Any) -> bytes:
    body = json.dumps(message, separators=(",", ":")).encode("utf-8")
    return _LENGTH.pack(len(body)) + body


def unpack(body: bytes) -> Any:
    return json.loads(body)


def frame_length(header: bytes) -> int:
    return int(_LENGTH.unpack(header)[0])


def read_exactly(fd: int, size: int) -> bytes | None:
    """`size` bytes from a blocking descriptor; None at end of file."""
    chunks, missing = [], size
    while missing:
        chunk = os.read(fd, min(missing, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
