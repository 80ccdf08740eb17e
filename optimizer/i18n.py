r"""Labels in English, Finnish and Swedish, and numbers written the way each language writes them.

Every label of the maps and reports comes from one message catalogue,
``optimizer/messages.toml``: one entry per message with the same three
languages and the same ``{placeholders}``. Labels are plain text; the pages
show them with ``textContent`` or HTML-escaped, never as markup.

Examples
--------
>>> message("tier_full", "fi")
'Yhteinen palvelupiste'
>>> format_number(1234.5, "fi", digits=1)
'1\xa0234,5'
>>> format_share(0.4567, "sv")
'45,7\xa0%'
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Literal, get_args

from optimizer.errors import DataError

__all__ = [
    "LANGUAGES",
    "Lang",
    "check_lang",
    "format_list",
    "format_number",
    "format_share",
    "message",
    "messages",
]

#: A language of the labels.
Lang = Literal["en", "fi", "sv"]

#: The languages of the catalogue, default first.
LANGUAGES: tuple[str, ...] = get_args(Lang)

_CATALOGUE = "messages.toml"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_NBSP = "\u00a0"
_MINUS = "\u2212"
_MISSING = "–"


@cache
def _catalogue() -> Mapping[str, Mapping[str, str]]:
    text = resources.files("optimizer").joinpath(_CATALOGUE).read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    for key, entry in raw.items():
        langs = set(entry) if isinstance(entry, dict) else set()
        if langs != set(LANGUAGES) or not all(isinstance(v, str) and v for v in entry.values()):
            raise DataError(
                f"optimizer/{_CATALOGUE}: message {key!r} must give a non-empty text for each "
                f"of {', '.join(LANGUAGES)}; it has {sorted(langs)}"
            )
    return MappingProxyType({k: MappingProxyType(dict(v)) for k, v in raw.items()})


def check_lang(lang: object) -> Lang:
    """Return ``lang`` if it is a language of the catalogue.

    Raises
    ------
    DataError
        If it is not one of ``"en"``, ``"fi"``, ``"sv"``.
    """
    if lang not in LANGUAGES:
        raise DataError(f"lang must be one of {', '.join(LANGUAGES)}, got {lang!r}")
    return lang  # type: ignore[return-value]


def messages(lang: Lang = "en") -> Mapping[str, str]:
    """Return every label of the catalogue in one language (key -> text, unformatted)."""
    lang = check_lang(lang)
    return MappingProxyType({key: entry[lang] for key, entry in _catalogue().items()})


def message(key: str, lang: Lang = "en", /, **values: object) -> str:
    """Return the label ``key`` in ``lang``, with its ``{placeholders}`` filled in.

    Parameters
    ----------
    key
        The message's name in the catalogue.
    lang
        ``"en"``, ``"fi"`` or ``"sv"``.
    **values
        One value per placeholder of the message; values are inserted as text
        (their own braces are not interpreted).

    Raises
    ------
    DataError
        If the key or language is unknown or a placeholder has no value.
    """
    lang = check_lang(lang)
    entry = _catalogue().get(key)
    if entry is None:
        raise DataError(f"no message {key!r} in optimizer/{_CATALOGUE}")
    text = entry[lang]

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise DataError(f"message {key!r} needs a value for {{{name}}}")
        return str(values[name])

    return _PLACEHOLDER.sub(fill, text)


def format_number(
    value: object, lang: Lang = "en", *, digits: int = 0, signed: bool = False
) -> str:
    """Write a number with the language's separators.

    English writes ``1,234.5``; Finnish and Swedish write ``1 234,5`` with a
    no-break space and the minus sign U+2212. NaN, ``None`` and text give
    ``"–"``; infinities give ``"∞"``.

    Parameters
    ----------
    value
        The number.
    lang
        ``"en"``, ``"fi"`` or ``"sv"``.
    digits
        Decimals.
    signed
        Write ``+`` before positive numbers (for differences).
    """
    lang = check_lang(lang)
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return _MISSING
    if math.isnan(number):
        return _MISSING
    if math.isinf(number):
        return ("−" if number < 0 else "+" if signed else "") + "∞"
    if round(number, digits) == 0:
        number, signed = 0.0, False  # no "-0.0" and no "+0.0"
    text = f"{number:{'+' if signed else ''},.{digits}f}"
    if lang == "en":
        return text
    return text.replace(",", _NBSP).replace(".", ",").replace("-", _MINUS)


def format_share(share: object, lang: Lang = "en", *, digits: int = 1, signed: bool = False) -> str:
    """Write a share (0..1) as a percentage: ``45.7%`` (en), ``45,7 %`` (fi, sv).

    ``signed`` writes a difference of shares in percentage points with a sign.
    """
    lang = check_lang(lang)
    try:
        number = 100 * float(share)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return _MISSING
    text = format_number(number, lang, digits=digits, signed=signed)
    if text == _MISSING:
        return text
    return message("percentage_points" if signed else "percent", lang, value=text)


def format_list(items: Iterable[str], lang: Lang = "en") -> str:
    """Join items as the language does: ``a, b and c``."""
    words = [str(i) for i in items]
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} {message('list_and', lang)} {words[-1]}"
