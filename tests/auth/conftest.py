"""The authentication tests' fixtures (defined in `auth_samples`)."""

from __future__ import annotations

from .auth_samples import metrics, pki, store, tokens

__all__ = ["metrics", "pki", "store", "tokens"]
