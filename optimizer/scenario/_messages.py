"""Pydantic validation errors turned into messages that name the key path and its line."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ValidationError

from optimizer.scenario._base import _Cited, _LocatedError
from optimizer.scenario._positions import KeyPath, line_of, located

__all__ = ["format_errors"]


def _unwrap(tp: Any) -> Any:
    """Strip ``Optional``/``Annotated`` from a type annotation."""
    while True:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _model_at(root: type[BaseModel], path: KeyPath) -> type[BaseModel] | None:
    """Return the schema model under ``root`` that holds the keys at ``path`` (or ``None``)."""
    tp: Any = root
    for part in path:
        tp = _unwrap(tp)
        origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(str(part))
            if field is None:
                return None
            tp = field.annotation
        elif origin is dict:
            tp = typing.get_args(tp)[1]
        elif origin is list:
            tp = typing.get_args(tp)[0]
        else:
            return None
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _clean_loc(loc: Sequence[str | int], data: Any) -> KeyPath:
    """Drop pydantic's union tags from an error location, keeping real keys."""
    out: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            out.append(part)
            node = node[part]
        elif i == len(loc) - 1 and isinstance(node, dict) and isinstance(part, str):
            out.append(part)  # a missing key
            node = None
        # else: a union-member tag such as "int" or "tuple[int, int]"
    return tuple(out)


_MESSAGES = {
    "greater_than_equal": "must be >= {ge:g}",
    "greater_than": "must be > {gt:g}",
    "less_than_equal": "must be <= {le:g}",
    "less_than": "must be < {lt:g}",
    "missing": "is required but missing",
    "finite_number": "must be a finite number",
}


def _describe(err: dict[str, Any], path: KeyPath, data: Any, root: type[BaseModel]) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        model = _model_at(root, path[:-1])
        allowed = sorted(model.model_fields) if model is not None else []
        if model is not None and issubclass(model, _Cited):
            allowed = [a for a in allowed if a not in ("sources", "assumptions")] + [
                "sources",
                "assumptions",
            ]
        hint = difflib.get_close_matches(str(path[-1]), allowed, n=1, cutoff=0.6)
        message = f"unknown key {str(path[-1])!r}"
        if hint:
            message += f"; did you mean {hint[0]!r}?"
        if allowed:
            message += f" Allowed keys here: {', '.join(allowed)}"
        return message
    if kind == "value_error" and isinstance(ctx.get("error"), _LocatedError):
        return str(ctx["error"])
    template = _MESSAGES.get(kind)
    message = template.format(**ctx) if template else str(err["msg"]).removeprefix("Value error, ")
    if kind != "missing":
        message += f", got {err.get('input')!r}"
    if path and path[-1] == "remote_share" and kind in ("greater_than_equal", "less_than_equal"):
        message += " (a share of visits, between 0 and 1)"
    is_rate = bool(path) and (path[-1] == "visits_per_resident" or path[-2:-1] == ("age_rates",))
    if is_rate and kind == "greater_than_equal":
        message += " (visits per resident per year cannot be negative)"
    return message


def format_errors(
    exc: ValidationError,
    data: dict[str, Any],
    lines: dict[KeyPath, int],
    path: Path | None,
    *,
    root: type[BaseModel],
) -> str:
    """Describe every validation problem of ``root`` on one line each, with file and line."""
    problems: list[tuple[int, str]] = []
    seen: set[KeyPath] = set()
    for err in exc.errors():
        key = _clean_loc(err["loc"], data)
        ctx = err.get("ctx") or {}
        if err["type"] == "value_error" and isinstance(ctx.get("error"), _LocatedError):
            key = (*key, *ctx["error"].key)
        if key in seen:
            continue
        seen.add(key)
        line = line_of(lines, key)
        problems.append((line or 0, located(path, lines, key, _describe(err, key, data, root))))
    problems.sort(key=lambda p: p[0])
    if len(problems) == 1:
        return problems[0][1]
    return f"{len(problems)} problems in the scenario:\n" + "\n".join(p for _, p in problems)
