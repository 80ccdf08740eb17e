"""The one rule for matching names, and the one rule for names used in paths.

* :func:`fold` is how every user-typed name (regions, municipalities, sites,
  scenario references) is compared: Unicode-normalised, case-folded, accents
  removed, runs of spaces, underscores and hyphens made one hyphen, and a
  purely numeric code stripped of leading zeros (``"012"`` matches ``"12"``).
* :func:`safe_name` is the rule a name must pass before it becomes part of a
  file or folder name (bundle slugs, region slugs, scenario names): ASCII
  letters, digits, ``_``, ``.`` and ``-``, starting with a letter or digit, at
  most :data:`MAX_NAME_LENGTH` characters. It never contains a path separator
  or ``..``, so a checked name cannot leave the folder it is used in.
* :func:`slugify` turns a display name into a safe name
  (``"Pohjois-Karjala"`` -> ``"pohjois-karjala"``).
"""

from __future__ import annotations

import re
import unicodedata

from optimizer.errors import DataError

__all__ = ["MAX_NAME_LENGTH", "SAFE_NAME_PATTERN", "fold", "run_name", "safe_name", "slugify"]

#: Longest name allowed in a path component.
MAX_NAME_LENGTH = 64
#: The safe-name rule as a regular expression (see the module docstring).
SAFE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_SAFE = re.compile(SAFE_NAME_PATTERN)
_SEPARATORS = re.compile(r"[\s_\-]+")


def fold(text: object) -> str:
    """Return the comparison form of a name or code.

    Parameters
    ----------
    text
        A name, slug or code (anything with a ``str()``).

    Returns
    -------
    str
        ``"Päijät Häme"`` -> ``"paijat-hame"``, ``"012"`` -> ``"12"``.
    """
    decomposed = unicodedata.normalize("NFKD", str(text))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    folded = _SEPARATORS.sub("-", plain.casefold().strip()).strip("-")
    if folded.isdigit():
        return folded.lstrip("0") or "0"
    return folded


def safe_name(name: object, *, what: str) -> str:
    """Check that ``name`` may be used as a file or folder name and return it.

    Parameters
    ----------
    name
        The candidate name.
    what
        What the name is, for the message (e.g. ``"scenario name"``,
        ``"bundle slug in data/regions/x/region.toml"``).

    Returns
    -------
    str
        The name, unchanged.

    Raises
    ------
    DataError
        If the name breaks the rule; the message shows the name literally and
        says what is allowed.
    """
    text = name if isinstance(name, str) else str(name)
    if not _SAFE.fullmatch(text) or ".." in text:
        raise DataError(
            f"{what} {text!r} cannot be used in a file name: use 1 to {MAX_NAME_LENGTH} ASCII "
            "letters, digits, '_', '.' or '-', starting with a letter or digit, without '..'"
        )
    return text


def run_name(region: str, scenario: str) -> str:
    """Return ``<region>-<scenario>``: the output folder of one run (and one batch region).

    Parameters
    ----------
    region
        The region's slug.
    scenario
        The scenario's name.

    Both parts are safe names (:func:`safe_name`), so the result is one too,
    apart from its length.
    """
    return f"{region}-{scenario}"


def slugify(text: object) -> str:
    """Turn a display name into a safe name: ``"Etelä-Savo"`` -> ``"etela-savo"``.

    Raises
    ------
    DataError
        If nothing of the name is left (e.g. only punctuation).
    """
    plain = re.sub(r"[^a-z0-9]+", "-", fold(text)).strip("-")[:MAX_NAME_LENGTH].strip("-")
    return safe_name(plain, what=f"slug made from {str(text)!r}")
