"""Validated settings of each backend, built once by the facade and handed to the backend.

:class:`LocalOptions` and :class:`RemoteOptions` are frozen: every check happens when they are
made (a bad value is a :class:`~jina_v3.ConfigurationError` naming the parameter), and nothing
downstream re-reads keyword arguments or the environment. The API key is a :class:`Secret`.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields
from typing import Any

from jina_v3.errors import ConfigurationError

__all__ = ["API_KEY_ENV", "BASE_URL_ENV", "LocalOptions", "RemoteOptions", "Secret"]

API_KEY_ENV = ("JINA_API_KEY", "JINAAI_API_KEY")
BASE_URL_ENV = "JINA_API_BASE_URL"
DEFAULT_BASE_URL = "https://api.jina.ai"


class Secret:
    """The API key: prints as ``Secret('***')``, and pickles as it was given.

    A key passed as ``api_key=`` travels in a pickle (a worker process needs it; keep such
    pickles private). A key read from an environment variable travels as the variable's
    NAME and is read again where the pickle is loaded, so the key never enters the pickle.
    """

    __slots__ = ("_value", "env")

    def __init__(self, value: str, *, env: str | None = None) -> None:
        self._value = value
        self.env = env

    @classmethod
    def resolve(cls, api_key: str | Secret | None) -> Secret:
        """`api_key` (a Secret as it is), else the first of ``JINA_API_KEY`` /
        ``JINAAI_API_KEY`` that is set."""
        if isinstance(api_key, Secret):
            return api_key
        if api_key is not None:
            if not isinstance(api_key, str):
                raise ConfigurationError(f"api_key must be a string, got {type(api_key).__name__}")
            return cls(check_key(api_key, "api_key="))
        for name in API_KEY_ENV:
            if os.environ.get(name, "").strip():
                return cls.from_env(name)
        raise ConfigurationError(
            "No API key for the Jina API: pass api_key=... or set the JINA_API_KEY "
            "environment variable (JINAAI_API_KEY is accepted too). Get a key at "
            "https://jina.ai/embeddings."
        )

    @classmethod
    def from_env(cls, name: str) -> Secret:
        """The key in environment variable `name` (read now)."""
        value = os.environ.get(name, "")
        if not value.strip():
            raise ConfigurationError(
                f"The API key was read from ${name} where this embedder was made, but {name} "
                "is not set here: set it in this process too, or pass api_key=..."
            )
        return cls(check_key(value, f"the {name} environment variable"), env=name)

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        if self.env is not None:
            return (Secret.from_env, (self.env,))
        return (Secret, (self._value,))


def check_key(key: str, source: str) -> str:
    """The key without surrounding whitespace; refused (never echoed) if it cannot be sent."""
    key = key.strip()
    if not key:
        raise ConfigurationError(f"The API key from {source} is empty.")
    for i, char in enumerate(key):
        if "!" <= char <= "~":
            continue
        if char == " ":
            what = "a space"
        elif ord(char) < 32 or ord(char) == 127:
            what = "a control character (a pasted newline or tab?)"
        else:
            what = "a non-ASCII character"
        raise ConfigurationError(
            f"The API key from {source} contains {what} at position {i}; keys are printable "
            "ASCII. Copy the key again, exactly as issued, into api_key= or JINA_API_KEY."
        )
    return key


def _positive(name: str, value: Any, *, integer: bool, zero: bool = False) -> None:
    number = isinstance(value, int if integer else (int, float)) and not isinstance(value, bool)
    if not (number and math.isfinite(value) and (value > 0 or (zero and value == 0))):
        what = "an integer" if integer else "a number of seconds"
        raise ConfigurationError(
            f"{name} must be {what} {'>= 0' if zero else '> 0'}, got {value!r}"
        )


@dataclass(frozen=True)
class LocalOptions:
    """Settings of the local torch backend (see :class:`~jina_v3.Embedder`)."""

    device: str | None = None
    dtype: str | None = None
    threads: int | None = None
    revision: str | None = None
    cache_dir: str | os.PathLike[str] | None = None
    max_batch_tokens: int | None = None
    window_tokens: int = 8192
    window_overlap: int = 512
    merge_adapters: bool = False

    def __post_init__(self) -> None:
        if self.device is not None and not isinstance(self.device, str):
            raise ConfigurationError(
                f"device must be a string like 'cpu' or 'cuda:0', got {self.device!r}"
            )
        if self.dtype not in (None, "float32", "fp32", "bfloat16", "bf16"):
            raise ConfigurationError(
                f"dtype must be 'float32' or 'bfloat16' (or None: bf16 where the hardware runs "
                f"it natively), got {self.dtype!r}"
            )
        for name in ("threads", "max_batch_tokens"):
            if getattr(self, name) is not None:
                _positive(name, getattr(self, name), integer=True)
        if not isinstance(self.merge_adapters, bool):
            raise ConfigurationError(
                f"merge_adapters must be True or False, got {self.merge_adapters!r}"
            )
        if not (isinstance(self.window_tokens, int) and self.window_tokens >= 2):
            raise ConfigurationError(
                f"window_tokens must be an integer >= 2, got {self.window_tokens!r}"
            )
        overlap = self.window_overlap
        if not (isinstance(overlap, int) and 0 <= overlap < self.window_tokens):
            raise ConfigurationError(
                f"window_overlap must be an integer in [0, window_tokens={self.window_tokens}), "
                f"got {overlap!r}"
            )


@dataclass(frozen=True)
class RemoteOptions:
    """Settings of the API backend (see :class:`~jina_v3.Embedder`); build with :meth:`create`."""

    api_key: Secret = field(repr=False)
    base_url: str = DEFAULT_BASE_URL
    timeout: float = 60.0
    max_retries: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 20.0
    max_concurrency: int = 4
    max_request_tokens: int = 32768
    http_client: Any = field(default=None, repr=False)
    tokenizer: str | os.PathLike[str] | None = None
    max_dimensions: int | None = None

    @classmethod
    def create(
        cls, *, api_key: str | Secret | None = None, base_url: str | None = None, **given: Any
    ) -> RemoteOptions:
        """Options from the given values, the environment (key, base URL) and the defaults."""
        url = base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
        return cls(
            Secret.resolve(api_key), url, **{k: v for k, v in given.items() if v is not None}
        )

    def __post_init__(self) -> None:
        if not isinstance(self.base_url, str) or not self.base_url.startswith(
            ("http://", "https://")
        ):
            raise ConfigurationError(
                f"base_url must start with http:// or https://, got {self.base_url!r}"
            )
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))
        for name in ("timeout", "backoff_base", "backoff_max"):
            _positive(name, getattr(self, name), integer=False, zero=name != "timeout")
        _positive("max_retries", self.max_retries, integer=True, zero=True)
        for name in ("max_concurrency", "max_request_tokens"):
            _positive(name, getattr(self, name), integer=True)
        if self.max_dimensions is not None:
            _positive("max_dimensions", self.max_dimensions, integer=True)
        if self.tokenizer is not None and not os.path.exists(os.path.expanduser(self.tokenizer)):
            raise ConfigurationError(f"tokenizer={str(self.tokenizer)!r} does not exist")
        if self.http_client is not None:
            import httpx  # only when a client is given: importing jina_v3 stays cheap

            if not isinstance(self.http_client, (httpx.Client, httpx.AsyncClient)):
                raise ConfigurationError(
                    f"http_client must be an httpx.Client or httpx.AsyncClient, got "
                    f"{type(self.http_client).__name__}"
                )


#: Option names per backend, as the facade accepts them.
LOCAL_OPTIONS = tuple(f.name for f in fields(LocalOptions))
API_OPTIONS = tuple(f.name for f in fields(RemoteOptions))
