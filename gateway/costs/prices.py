"""The one price table (``prices.toml``, shipped as package data), typed.

Example:
    >>> table = load_price_table()
    >>> table.region, table.price("api_gateway", "http_per_million")
    ('us-west-2', 1.0)
    >>> round(per_request(table.prices, "http", 100e6) * 1e6, 2)
    1.0
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

Prices = Mapping[str, Mapping[str, float]]
"""Section → name → USD (``meta`` excluded)."""
PRICE_FILE = "prices.toml"


@dataclass(frozen=True)
class PriceTable:
    """The prices with where and when they hold."""

    region: str
    as_of: str
    currency: str
    prices: Prices

    def price(self, section: str, name: str) -> float:
        """One price; ``KeyError`` names what is missing."""
        return self.prices[section][name]


def parse_price_table(text: str) -> PriceTable:
    """A table from TOML text: every section but ``meta`` as floats."""
    data = tomllib.loads(text)
    meta = data.get("meta", {})
    prices = {
        section: {name: float(value) for name, value in values.items()}
        for section, values in data.items()
        if section != "meta"
    }
    return PriceTable(str(meta["region"]), str(meta["as_of"]), str(meta["currency"]), prices)


@functools.cache
def _packaged() -> PriceTable:
    return parse_price_table(resources.files(__package__).joinpath(PRICE_FILE).read_text())


def load_price_table(path: Path | None = None) -> PriceTable:
    """The packaged table (cached), or the one at ``path``."""
    return _packaged() if path is None else parse_price_table(path.read_text())


def load_prices(path: Path | None = None) -> Prices:
    """The prices alone (what the models index: ``prices["lambda"]["arm_gb_second"]``)."""
    return load_price_table(path).prices


def per_request(prices: Prices, api: str, monthly_requests: float) -> float:
    """Average USD per request of an API Gateway ``api`` (``rest`` or ``http``) at a
    month's volume, its first tier and the next one priced apart.

    >>> p = {"api_gateway": {"x_per_million": 2.0, "x_tier_millions": 1,
    ...                      "x_next_per_million": 1.0}}
    >>> per_request(p, "x", 2e6) * 1e6
    1.5
    """
    gateway = prices["api_gateway"]
    tier = gateway[f"{api}_tier_millions"] * 1e6
    first = min(monthly_requests, tier) * gateway[f"{api}_per_million"]
    rest = max(0.0, monthly_requests - tier) * gateway[f"{api}_next_per_million"]
    return (first + rest) / 1e6 / max(monthly_requests, 1.0)
