"""Reading a configuration: YAML (``yaml.safe_load`` rules, duplicate keys refused), ``${ENV}``
references, secrets, unknown keys, and errors that name the key path.

- **Errors.** Every refusal is one :class:`~fillforge.errors.ConfigError` whose ``field`` is the
  dotted key path (``risk_management.max_daily_loss``; list items as ``retryable_errors[2]``),
  ``value`` what the file gave (a secret's value masked) and ``why`` the reason. Pydantic's
  ``ValidationError`` never escapes, nor does any other traceback.
- **References.** ``${NAME}`` (or ``${NAME:-default}``) inside any string takes the environment
  variable's text. A value that is a reference and nothing else is read as a YAML scalar, so
  ``port: ${IB_PORT}`` is a number. An unset variable with no default is refused.
- **Secrets** (``api_key``, ``secret_key``) are :class:`pydantic.SecretStr`: masked in ``repr``,
  in errors and in ``fillforge config check``. A placeholder (``your_api_key``, ``<key>``,
  ``changeme``, empty) counts as not given: the vendor's environment variables supply it. A
  literal secret is accepted with a ``UserWarning`` (the ``warnings`` module) and a line in
  the ``fillforge.config`` log, which names the key, never the value.
- **Unknown keys** are not in the model; they are listed in :attr:`ConfigFile.unknown_keys`, and
  reported with a ``UserWarning`` and a log line.
"""

from __future__ import annotations

import logging
import os
import re
import types
import typing
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ValidationError

from fillforge.config.model import Config
from fillforge.errors import ConfigError

__all__ = [
    "MASK",
    "SECRET_KEYS",
    "ConfigFile",
    "SecretSource",
    "is_placeholder",
    "key_path",
    "load_config",
    "parse_config",
    "read_config",
]

log = logging.getLogger("fillforge.config")

MASK = "**********"
MAX_BYTES = 1 << 20
MAX_VALUES = 100_000  # YAML aliases can make a small file expand exponentially
SECRET_KEYS = frozenset({"api_key", "secret_key"})
_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_PLACEHOLDER = re.compile(
    r"^(your[_\- ].*|<.*>|change[_\-]?me|replace[_\-]?me|todo|xx+|\*+|\.\.\.|none|null|)$",
    re.IGNORECASE,
)


def is_placeholder(text: str) -> bool:
    """Whether a secret's text is a placeholder rather than a credential."""
    return bool(_PLACEHOLDER.match(text.strip()))


def key_path(parts: list[str | int] | tuple[str | int, ...]) -> str:
    """``("execution", "retry_policy", "retryable_errors", 2)`` -> ``execution.retry_policy.
    retryable_errors[2]``."""
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif p.startswith("["):
            out += p
        else:
            out += f".{p}" if out else p
    return out


@dataclass(frozen=True, slots=True)
class SecretSource:
    """Where a secret came from: ``env`` (a ``${NAME}`` reference), ``literal`` (written in the
    file), or ``placeholder`` (ignored: the vendor's environment variable supplies it)."""

    path: str
    kind: Literal["env", "literal", "placeholder"]
    variable: str | None = None


@dataclass(frozen=True)
class ConfigFile:
    """A configuration as read: the validated :class:`Config`, the file's keys (secrets
    masked, references resolved) for ``config check``, what it could not place, and where each
    secret came from."""

    config: Config
    source: str
    data: dict[str, Any]
    unknown_keys: tuple[str, ...] = ()
    secrets: dict[str, SecretSource] = field(default_factory=dict)


class _Loader(yaml.SafeLoader):
    """``yaml.safe_load``'s rules, and a key given twice in one mapping is an error (the
    second silently winning is how limits get lost)."""


def _mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, typing.Hashable) and key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    out: dict[Any, Any] = loader.construct_mapping(node, deep=deep)
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def _yaml(text: str, source: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = f"line {mark.line + 1}: " if mark is not None else ""
        raise ConfigError("file", source, f"{line}not valid YAML: {e.problem or e}") from None
    except (yaml.YAMLError, RecursionError) as e:
        raise ConfigError("file", source, f"not valid YAML: {e}") from None


class _Reader:
    """One pass over the raw data: references resolved, secrets sorted, keys checked."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.secrets: dict[str, SecretSource] = {}
        self.literal: list[str] = []  # warned about once the file is valid
        self.values = 0

    def resolve(self, value: Any, path: tuple[str | int, ...]) -> Any:
        self.values += 1
        if self.values > MAX_VALUES:
            raise ConfigError(
                "(top level)", "...", f"more than {MAX_VALUES:,} values (YAML aliases?): refused"
            )
        if isinstance(value, dict):
            return {k: self.resolve(v, (*path, str(k))) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v, (*path, i)) for i, v in enumerate(value)]
        secret = bool(path) and path[-1] in SECRET_KEYS
        if secret:
            return self._secret(value, path)
        if isinstance(value, str) and "${" in value:
            whole = _REF.fullmatch(value.strip())
            text = self._substitute(value, path)
            if whole is not None:
                try:
                    scalar = yaml.safe_load(text)
                except yaml.YAMLError:
                    return text
                return scalar if isinstance(scalar, str | int | float | bool) else text
            return text
        return value

    def _substitute(self, text: str, path: tuple[str | int, ...]) -> str:
        def one(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            got = self.env.get(name)
            if got is None:
                if default is None:
                    raise ConfigError(
                        key_path(path), m.group(0), f"the environment variable {name} is not set"
                    )
                return default
            return got

        return _REF.sub(one, text)

    def _secret(self, value: Any, path: tuple[str | int, ...]) -> Any:
        where = key_path(path)
        if value is None:
            return None
        if not isinstance(value, str):
            raise ConfigError(where, MASK, "a secret is text (quote it)")
        whole = _REF.fullmatch(value.strip())
        if whole is not None:
            self.secrets[where] = SecretSource(where, "env", whole.group(1))
            return self._substitute(value, path)
        if "${" in value:
            raise ConfigError(where, MASK, "a secret is one ${NAME} reference or plain text")
        if is_placeholder(value):
            self.secrets[where] = SecretSource(where, "placeholder")
            return None
        self.secrets[where] = SecretSource(where, "literal")
        self.literal.append(where)
        return value


def _block_model(annotation: Any) -> type[BaseModel] | None:
    """The model class a field holds (``X``, ``X | None``), if it holds one."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _block_model(arg)
            if found is not None:
                return found
    return None


def _unknown(data: Mapping[Any, Any], model: type[BaseModel], path: tuple[str, ...]) -> list[str]:
    out = []
    for key, value in data.items():
        if not isinstance(key, str) or key not in model.model_fields:
            out.append(key_path((*path, str(key))))
            continue
        inner = _block_model(model.model_fields[key].annotation)
        if inner is not None and isinstance(value, dict):
            out += _unknown(value, inner, (*path, key))
    return out


def _masked(data: Any, path: tuple[str, ...] = ()) -> Any:
    if isinstance(data, dict):
        return {
            k: (MASK if k in SECRET_KEYS and v is not None else _masked(v, (*path, str(k))))
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [_masked(v, path) for v in data]
    return data


def _existing(data: Any, loc: tuple[Any, ...]) -> list[str | int]:
    """The part of pydantic's location that names keys of the data (its union and type tags
    dropped)."""
    out: list[str | int] = []
    here = data
    for part in loc:
        in_dict = isinstance(here, dict) and part in here
        if in_dict or (isinstance(here, list) and isinstance(part, int) and 0 <= part < len(here)):
            out.append(part)
            here = here[part]
    return out


def _config_error(e: ValidationError, data: Any) -> ConfigError:
    errors = e.errors(include_url=False)
    first = errors[0]
    parts = _existing(data, tuple(first["loc"]))
    raised = first.get("ctx", {}).get("error")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    if isinstance(raised, ConfigError):
        inner: list[str | int] = [raised.field] if raised.field else []
        path = key_path(parts + inner) if parts else raised.field
        value, why = raised.value, raised.why
    else:
        path = key_path(parts) or "(top level)"
        value = first.get("input")
        why = str(first["msg"]).removeprefix("Value error, ")
        if first["type"] == "missing":
            path = key_path([*parts, *first["loc"][len(parts) : len(parts) + 1]])
            value = None
    if parts and isinstance(parts[-1], str) and parts[-1] in SECRET_KEYS:
        value = MASK
    elif isinstance(value, dict | list):
        value = _masked(value)  # a whole block as the value: its secrets stay hidden
    return ConfigError(path, value, why + more)


def parse_config(
    data: object,
    *,
    source: str = "<config>",
    env: Mapping[str, str] | None = None,
    quiet: bool = False,
) -> ConfigFile:
    """Validate already-parsed data (a mapping) into a :class:`ConfigFile`. Unknown keys and a
    literal secret are warned about (a ``UserWarning`` and a log line) unless ``quiet``: a
    caller that reports them itself (from :attr:`ConfigFile.unknown_keys`) passes it."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("(top level)", type(data).__name__, "expected a mapping of blocks")
    reader = _Reader(os.environ if env is None else env)
    resolved = reader.resolve(data, ())
    try:
        config = Config.model_validate(resolved)
    except ValidationError as e:
        raise _config_error(e, resolved) from None
    except RecursionError:
        raise ConfigError("(top level)", "...", "nested too deeply") from None
    messages = [
        f"{source}: {where}: a secret is written in the configuration file; "
        "use a ${NAME} reference to an environment variable instead"
        for where in reader.literal
    ]
    unknown = tuple(_unknown(resolved, Config, ()))
    if unknown:
        messages.append(f"{source}: unknown keys, not applied: {', '.join(unknown)}")
    for message in [] if quiet else messages:
        log.warning(message)
        warnings.warn(message, UserWarning, stacklevel=3)
    return ConfigFile(config, source, _masked(resolved), unknown, reader.secrets)


def read_config(
    path: str | Path, *, env: Mapping[str, str] | None = None, quiet: bool = False
) -> ConfigFile:
    """Read and validate the YAML file at ``path`` (``quiet``: as :func:`parse_config`)."""
    p = Path(path)
    try:
        if p.is_file() and p.stat().st_size > MAX_BYTES:
            raise ConfigError("file", str(path), f"larger than {MAX_BYTES:,} bytes: refused")
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise ConfigError("file", str(path), f"cannot be read: {why}") from None
    return parse_config(_yaml(text, str(path)), source=str(path), env=env, quiet=quiet)


def load_config(path: str | Path, *, env: Mapping[str, str] | None = None) -> Config:
    """The validated :class:`Config` of the YAML file at ``path``."""
    return read_config(path, env=env).config
