"""A setting declared once: the environment variable a process reads, the `learnbot:` key the
stack sets it from (if any), its parser, default, whether it is secret, and who uses it.

Parsers take the trimmed text and raise Invalid with what is allowed, never the value (it may be
a secret). Readers put the name in front: ConfigError for a variable, StackConfigError for a key.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from limits import parse as parse_rate

Value = TypeVar("Value", covariant=True)

PROCESSES = frozenset({"api", "backup", "doctor"})
TARGETS = frozenset({"docker", "kubernetes"})

_HOSTNAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?")


class Invalid(ValueError):
    """What a setting allows; raised by a parser for a value it refuses."""


class ConfigError(ValueError):
    """A setting that stops start-up; the message names the variable and what is allowed."""

    def __init__(self, variable: str, allowed: str) -> None:
        super().__init__(f"{variable}: {allowed}")
        self.variable = variable


@dataclass(frozen=True, slots=True)
class Setting(Generic[Value]):
    # The environment variable a process reads; None for a setting of the stack alone.
    variable: str | None
    parse: Callable[[str], Value]
    # None: unset means no value, or a default the reader works out from other settings.
    default: Value | None = None
    # The `learnbot:` key the stack sets this from; None when the stack does not.
    key: str | None = None
    stack_default: Value | None = None
    secret: bool = False
    # The processes that read the variable, and the targets whose stacks take the key.
    processes: frozenset[str] = frozenset()
    targets: frozenset[str] = TARGETS
    # What the stack says is allowed, where Pulumi's users need other words than the process's.
    stack_allowed: str | None = None

    def from_env(self, env: Mapping[str, str]) -> Value | None:
        assert self.variable is not None
        raw = text_setting(env, self.variable)
        if raw is None:
            return self.default
        try:
            return self.parse(raw)
        except Invalid as refused:
            raise ConfigError(self.variable, str(refused)) from None

    def value_from_env(self, env: Mapping[str, str]) -> Value:
        value = self.from_env(env)
        assert value is not None, f"{self.variable} has no default"
        return value


def declared(namespace: Mapping[str, Any]) -> tuple[Setting[Any], ...]:
    """The settings a module declares, in the order it declares them."""
    return tuple(value for value in namespace.values() if isinstance(value, Setting))


def text_setting(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def text(raw: str) -> str:
    return raw


def whole(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
            raise Invalid(f"a whole number from {low} to {high}")
        return int(raw)

    return parse


def choice(allowed: Iterable[str], *, fold_case: bool = False) -> Callable[[str], str]:
    options = tuple(allowed)

    def parse(raw: str) -> str:
        value = raw.upper() if fold_case else raw
        if value not in options:
            raise Invalid("one of " + ", ".join(options))
        return value

    return parse


def flag(raw: str) -> bool:
    value = raw.lower()
    if value not in ("0", "1", "true", "false"):
        raise Invalid("1 or 0 (true or false)")
    return value in ("1", "true")


def matching(pattern: str, rule: str) -> Callable[[str], str]:
    compiled = re.compile(pattern)

    def parse(raw: str) -> str:
        if not compiled.fullmatch(raw):
            raise Invalid(rule)
        return raw

    return parse


def telegram_ids(raw: str) -> frozenset[int]:
    ids: set[int] = set()
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        if not part.isascii() or not part.isdigit() or not 0 < int(part) < 2**53:
            raise Invalid("comma-separated Telegram user ids (positive whole numbers)")
        ids.add(int(part))
    return frozenset(ids)


def origins(raw: str) -> tuple[str, ...]:
    found = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    if found != ("*",) and not all(_ORIGIN.fullmatch(origin) for origin in found):
        raise Invalid("* or comma-separated origins such as https://app.example.com")
    return found


def names(raw: str) -> tuple[str, ...]:
    """Comma-separated names, in order, each once."""
    return tuple(dict.fromkeys(p.strip() for p in raw.split(",") if p.strip()))


def host(raw: str) -> str:
    try:
        ipaddress.ip_address(raw)
    except ValueError:
        if not _HOSTNAME.fullmatch(raw):
            raise Invalid("an IP address (0.0.0.0 for all) or a host name") from None
    return raw


def rate(raw: str) -> str:
    try:
        parse_rate(raw)
    except ValueError:
        raise Invalid("a rate such as 300/minute, 10/second or 1000/hour") from None
    return raw


def locales(
    supported: tuple[str, ...] | None,
    default: str,
    shipped: Iterable[str],
    *,
    supported_name: str,
) -> tuple[tuple[str, ...], str]:
    """The supported locales (every shipped one when None) and the default among them.

    Raises Invalid naming what is wrong; its `.setting` is "supported" or "default"."""
    shipped = tuple(shipped)
    allowed = "shipped locales: " + ", ".join(shipped)
    chosen = shipped if supported is None else supported
    if not chosen or any(locale not in shipped for locale in chosen):
        raise LocaleInvalid("supported", "comma-separated " + allowed)
    if default not in shipped:
        raise LocaleInvalid("default", "one of the " + allowed)
    if default not in chosen:
        raise LocaleInvalid("default", f"one of {supported_name}: " + ", ".join(chosen))
    return chosen, default


class LocaleInvalid(Invalid):
    def __init__(self, setting: str, allowed: str) -> None:
        super().__init__(allowed)
        self.setting = setting
