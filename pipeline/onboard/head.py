"""What new-language reads of a line-based file to classify it: its first bytes, as lines of text in UTF-8 or in
the single-byte encoding ``--encoding`` names, and which of the two a file is in."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pipeline.config import ConfigError
from pipeline.config.sources import UTF8, legacy_hint
from pipeline.readers import format_of
from pipeline.readers.common import BINARY_SNIFF_BYTES, open_binary, wide_encoding

SNIFF_BYTES = 2 << 20       # decompressed bytes read to decide a text file's layout


@lru_cache(maxsize=1)   # files are classified one by one: encoding_of, then lines, read the same head once
def head(path: Path, n: int = SNIFF_BYTES) -> bytes:
    """The first ``n`` (decompressed) bytes; a ConfigError naming a file that cannot be read."""
    try:
        with open_binary(path) as f:
            return f.read(n)
    except Exception as e:  # a damaged archive: the message names it (gzip/lzma/zstandard raise their own)
        raise ConfigError(f"{path}: cannot read it ({type(e).__name__}: {e})") from None


def lines(path: Path, encoding: str = UTF8) -> list[str]:
    """The first lines of a line-based file, as text (a ConfigError when it is binary or not in ``encoding``)."""
    data = head(path)
    if b"\x00" in data[:BINARY_SNIFF_BYTES]:
        wide = wide_encoding(data[:BINARY_SNIFF_BYTES])
        if wide:
            raise ConfigError(f"{path}: {wide} text, not UTF-8; re-encode it (e.g. iconv -f {wide} -t UTF-8 FILE > "
                              f"NEW) or remove it from the folder")
        raise ConfigError(f"{path}: looks like a binary file (NUL byte), not a {format_of(path) or 'text'} file; "
                          f"remove it from the folder or convert it")
    cut = data.rfind(b"\n") + 1 if len(data) == SNIFF_BYTES else len(data)
    try:
        text = data[: cut or len(data)].decode(encoding)
    except UnicodeDecodeError as e:
        if encoding != UTF8:
            raise ConfigError(f"{path}: not valid {encoding} (byte 0x{data[e.start]:02x} at byte {e.start}); check "
                              f"its encoding (--encoding)") from None
        hint = legacy_hint(data[:cut or len(data)], "run new-language with `--encoding {}`")
        raise ConfigError(f"{path}: not valid UTF-8 (byte 0x{data[e.start]:02x} at byte {e.start}); {hint}") from None
    return text.removeprefix("\ufeff").split("\n")


def encoding_of(path: Path, encoding: str) -> str:
    """The encoding a text or CSV file is read in when new-language is given ``--encoding``: that one, unless the
    file's first bytes hold non-ASCII characters that are valid UTF-8 (a UTF-8 file among legacy ones, which the
    legacy encoding would turn into mojibake)."""
    data = head(path)
    data = data[: data.rfind(b"\n") + 1 or len(data)] if len(data) == SNIFF_BYTES else data
    if encoding == UTF8 or data.isascii():
        return encoding
    try:
        data.decode(UTF8)
    except UnicodeDecodeError:
        return encoding
    return UTF8
