"""Where each key of a TOML text is: the line of every key path.

:mod:`tomllib` reports no positions, and no maintained Python TOML library
exposes them (tomli has none; tomlkit keeps the layout but no line numbers), so
this small scanner walks a text that :mod:`tomllib` has already accepted and
records the first line of every key path. Paths have the shape of pydantic
error locations: names are strings, array elements (``[[table]]`` entries,
items of inline arrays) are integers.
"""

from __future__ import annotations

import bisect
import tomllib
from collections.abc import Sequence
from pathlib import Path

__all__ = ["KeyPath", "dotted", "key_lines", "line_of", "located"]

KeyPath = tuple[str | int, ...]

_BARE_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class _KeyScanner:
    """Walk a valid TOML text once and record the first line of every key path.

    Paths have the shape of pydantic error locations: names are strings and
    array elements (``[[table]]`` entries, items of inline arrays) are integers.
    """

    def __init__(self, text: str) -> None:
        self.s = text
        self.n = len(text)
        self.pos = 0
        self.lines: dict[KeyPath, int] = {}
        self._newlines = [i for i, c in enumerate(text) if c == "\n"]
        self._array_tables: dict[KeyPath, int] = {}

    def _record(self, path: KeyPath, pos: int) -> None:
        line = bisect.bisect_left(self._newlines, pos) + 1
        for k in range(1, len(path) + 1):
            self.lines.setdefault(path[:k], line)

    def _peek(self) -> str:
        return self.s[self.pos] if self.pos < self.n else ""

    def _skip_blank(self) -> None:
        while self._peek() in (" ", "\t"):
            self.pos += 1

    def _skip_blank_lines(self) -> None:
        while self.pos < self.n:
            c = self.s[self.pos]
            if c in " \t\r\n":
                self.pos += 1
            elif c == "#":
                self._skip_to_eol()
            else:
                return

    def _skip_to_eol(self) -> None:
        end = self.s.find("\n", self.pos)
        self.pos = self.n if end < 0 else end

    def _skip_string(self) -> None:
        s = self.s
        for quote in ('"""', "'''"):
            if s.startswith(quote, self.pos):
                self.pos += 3
                while self.pos < self.n:
                    if quote == '"""' and s[self.pos] == "\\":
                        self.pos += 2
                    elif s.startswith(quote, self.pos):
                        self.pos += 3
                        while self._peek() == quote[0]:  # up to two quotes may close it
                            self.pos += 1
                        return
                    else:
                        self.pos += 1
                return
        quote = s[self.pos]
        self.pos += 1
        while self.pos < self.n and s[self.pos] != quote:
            self.pos += 2 if (quote == '"' and s[self.pos] == "\\") else 1
        self.pos += 1

    def _read_key(self) -> list[str]:
        parts: list[str] = []
        while True:
            self._skip_blank()
            start = self.pos
            if self._peek() in ('"', "'"):
                self._skip_string()
                parts.append(tomllib.loads(f"k = {self.s[start : self.pos]}")["k"])
            else:
                while self._peek() and self._peek() in _BARE_KEY_CHARS:
                    self.pos += 1
                parts.append(self.s[start : self.pos])
            self._skip_blank()
            if self._peek() != ".":
                return parts
            self.pos += 1

    def _resolve(self, parts: Sequence[str]) -> KeyPath:
        out: list[str | int] = []
        for part in parts:
            out.append(part)
            if tuple(out) in self._array_tables:
                out.append(self._array_tables[tuple(out)])
        return tuple(out)

    def _value(self, path: KeyPath) -> None:
        c = self._peek()
        if c in ('"', "'"):
            self._skip_string()
        elif c == "[":
            self.pos += 1
            index = 0
            while True:
                self._skip_blank_lines()
                if self._peek() in ("]", ""):
                    self.pos += 1
                    return
                self._record((*path, index), self.pos)
                self._value((*path, index))
                index += 1
                self._skip_blank_lines()
                if self._peek() == ",":
                    self.pos += 1
        elif c == "{":
            self.pos += 1
            while True:
                self._skip_blank()
                if self._peek() in ("}", ""):
                    self.pos += 1
                    return
                start = self.pos
                key = (*path, *self._read_key())
                self._record(key, start)
                self.pos += 1  # the "="
                self._skip_blank()
                self._value(key)
                self._skip_blank()
                if self._peek() == ",":
                    self.pos += 1
        else:
            while self._peek() and self._peek() not in ",]}\n#":
                self.pos += 1

    def run(self) -> dict[KeyPath, int]:
        table: KeyPath = ()
        while True:
            self._skip_blank_lines()
            if self.pos >= self.n:
                return self.lines
            start = self.pos
            if self.s.startswith("[[", self.pos):
                self.pos += 2
                parts = self._read_key()
                self.pos += 2
                head = (*self._resolve(parts[:-1]), parts[-1])
                index = self._array_tables.get(head, -1) + 1
                self._array_tables[head] = index
                table = (*head, index)
                self._record(table, start)
            elif self._peek() == "[":
                self.pos += 1
                table = self._resolve(self._read_key())
                self.pos += 1
                self._record(table, start)
            else:
                key = (*table, *self._read_key())
                self._record(key, start)
                self.pos += 1  # the "="
                self._skip_blank()
                self._value(key)
            self._skip_to_eol()


def key_lines(text: str) -> dict[KeyPath, int]:
    """Map every key path of a valid TOML text (and each prefix) to its first line."""
    return _KeyScanner(text).run()


def line_of(lines: dict[KeyPath, int], path: KeyPath) -> int | None:
    """Return the line of ``path``, or of its longest prefix present in the file."""
    for k in range(len(path), 0, -1):
        if path[:k] in lines:
            return lines[path[:k]]
    return None


def dotted(path: KeyPath) -> str:
    """Return a key path as it is written in TOML: ``network.required_sites[0]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def located(path: Path | None, lines: dict[KeyPath, int], key: KeyPath, message: str) -> str:
    """Prefix ``message`` with the file, the line of ``key`` and the key path."""
    where = str(path) if path is not None else "<scenario>"
    line = line_of(lines, key)
    if line is not None:
        where += f", line {line}"
    return f"{where}: {dotted(key)}: {message}"
