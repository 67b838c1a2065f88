"""Practitioners' 医保支付资格 statuses on the agent side: the cache the checks read (`StatusCache`) and the long
poll that keeps it current from the central platform (`StatusPoller`)."""

from __future__ import annotations

from .cache import CACHE_FILE, Applied, StatusCache
from .poller import PollerStatus, StatusCall, StatusPoller, central_call

__all__ = ["CACHE_FILE", "Applied", "PollerStatus", "StatusCache", "StatusCall", "StatusPoller", "central_call"]
