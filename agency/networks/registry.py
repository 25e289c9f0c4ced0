"""Which adapter publishes for which network key."""

from __future__ import annotations

from .base import Network

_ADAPTERS: dict[str, type[Network]] = {}


def register(cls: type[Network]) -> type[Network]:
    _ADAPTERS[cls.key] = cls
    return cls


def adapter_for(network: str) -> Network:
    """A fresh adapter for ``network`` (adapters read their settings from the app config
    when used); ``KeyError`` for a network Relais cannot publish to yet."""
    _load_builtin()
    return _ADAPTERS[network]()


def can_publish(network: str) -> bool:
    _load_builtin()
    return network in _ADAPTERS


def _load_builtin() -> None:
    if _ADAPTERS:
        return
    from .sandbox import SandboxNetwork

    register(SandboxNetwork)
    for module in ("mastodon", "bluesky"):
        try:
            imported = __import__(f"agency.networks.{module}", fromlist=["ADAPTER"])
        except ModuleNotFoundError as missing:
            if missing.name != f"agency.networks.{module}":
                raise
            continue
        register(imported.ADAPTER)
