"""Which adapter publishes for which network key."""

from __future__ import annotations

from .base import Network


def _adapters() -> dict[str, type[Network]]:
    # Imported when first needed: the adapters pull in httpx and their helpers, which
    # the web process rarely needs.
    from .bluesky import ADAPTER as BLUESKY
    from .facebook import ADAPTER as FACEBOOK
    from .google_business import ADAPTER as GOOGLE_BUSINESS
    from .instagram import ADAPTER as INSTAGRAM
    from .linkedin import ADAPTER as LINKEDIN
    from .mastodon import ADAPTER as MASTODON
    from .sandbox import SandboxNetwork
    from .x import ADAPTER as X

    return {cls.key: cls for cls in (SandboxNetwork, MASTODON, BLUESKY, FACEBOOK,
                                     GOOGLE_BUSINESS, LINKEDIN, X, INSTAGRAM)}


def adapter_for(network: str) -> Network:
    """A fresh adapter for ``network`` (one per publication: adapters keep per-call state
    such as refreshed credentials); ``KeyError`` for a network Relais cannot publish to."""
    return _adapters()[network]()


def can_publish(network: str) -> bool:
    return network in _adapters()
