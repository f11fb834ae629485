"""Generate N synthetic recipients for the bundled starter kit, as JSONL, deterministic per seed.

The distributions aim at a plausible online shop, not at any real one:

- **locales**: en_US 50 %, de_DE 20 %, en_GB 12 %, fr_FR 8 %, es_ES 5 %, nl_NL 5 %, each with
  its currency and time zone, and first and last names of that language (some non-ASCII);
- **signups** up to ~7 years back, most of them recent (exponential, mean ~1.4 years);
- **orders**: 72 % of recipients have ordered. Each buyer orders at their own rate (log-normal,
  median 2.5 orders a year) from shortly after signup until they churn (exponential, mean
  ~4 years), as a Poisson process, so counts are Poisson-like and recency is skewed towards
  recent orders with a long tail of lapsed buyers. Order totals are log-normal (median ~$65),
  categories lean towards each buyer's favourite;
- **loyalty**: points are ~10 per unit spent plus a little noise; the tier follows lifetime
  spend (Silver from 400, Gold from 1,200);
- **engagement**: a propensity per recipient (beta-distributed, higher for recent buyers) drives
  opens, clicks (a share of opens) and site visits in the last 30 days, and the last open;
- **carts** for ~10 % (more of the engaged), one to three items with line prices;
  **recommendations** for ~70 %; **links** with a per-recipient unsubscribe URL and token.

Usage::

    python examples/generate_audience.py 100000 --seed 7 --out audience.jsonl
    python examples/generate_audience.py 10 | head -1

Importable: ``from examples.generate_audience import generate``; ``generate(n, seed=…)`` yields
the records one by one (nothing is held in memory).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, TextIO

NOW: Final = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)  # the starter kit's pinned clock
SHOP: Final = "https://northwind.example"
CATEGORIES: Final = ("outerwear", "knitwear", "footwear", "accessories", "home", "basics")
# (sku, name, unit price, category)
CATALOG: Final = (
    ("W-1", "Merino scarf", "49.00", "accessories"),
    ("W-2", "Wool gloves", "39.00", "accessories"),
    ("H-2", "Ribbed beanie", "29.00", "accessories"),
    ("K-7", "Chunky knit cardigan", "129.00", "knitwear"),
    ("K-3", "Cashmere crew neck", "159.00", "knitwear"),
    ("O-1", "Down parka", "289.00", "outerwear"),
    ("O-4", "Waxed cotton jacket", "219.00", "outerwear"),
    ("B-4", "Waxed leather boots", "189.00", "footwear"),
    ("B-9", "Trail runners", "119.00", "footwear"),
    ("S-2", "Wool hiking socks", "19.00", "basics"),
    ("T-5", "Organic cotton tee", "25.00", "basics"),
    ("M-3", "Stoneware mug set", "34.00", "home"),
    ("M-8", "Alpaca throw", "99.00", "home"),
)
# locale, cumulative share, currency, time zone, first names, last names
_LOCALES: Final = (
    (
        "en_US",
        0.50,
        "USD",
        "America/New_York",
        ("James", "Mary", "Olivia", "Noah", "Ava", "Liam", "Zoë", "Ethan", "Maya", "Lucas"),
        ("Smith", "Johnson", "Brown", "Garcia", "Miller", "Davis", "Nguyen", "O'Brien"),
    ),
    (
        "de_DE",
        0.70,
        "EUR",
        "Europe/Berlin",
        ("Jürgen", "Anna", "Lena", "Felix", "Sören", "Mia", "Paul", "Greta", "Jonas"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weiß", "Becker", "Koch", "Hoffmann"),
    ),
    (
        "en_GB",
        0.82,
        "GBP",
        "Europe/London",
        ("Oliver", "Amelia", "Harry", "Isla", "George", "Freya", "Arthur", "Sophie"),
        ("Taylor", "Wilson", "Evans", "Thomas", "Roberts", "Walker", "Wright"),
    ),
    (
        "fr_FR",
        0.90,
        "EUR",
        "Europe/Paris",
        ("Léa", "Hugo", "Chloé", "Louis", "Inès", "Gabriel", "Camille", "Raphaël"),
        ("Martin", "Bernard", "Dubois", "Lefèvre", "Moreau", "Girard", "Roux"),
    ),
    (
        "es_ES",
        0.95,
        "EUR",
        "Europe/Madrid",
        ("Lucía", "Mateo", "Sofía", "Martín", "Valeria", "Hugo", "Paula"),
        ("García", "Fernández", "López", "Martínez", "Sánchez", "Pérez", "Gómez"),
    ),
    (
        "nl_NL",
        1.00,
        "EUR",
        "Europe/Amsterdam",
        ("Daan", "Emma", "Sem", "Tess", "Lotte", "Bram", "Fenna"),
        ("de Jong", "Jansen", "de Vries", "van Dijk", "Bakker", "Visser", "Smit"),
    ),
)
_CUMULATIVE: Final = tuple(entry[1] for entry in _LOCALES)
_ASCII: Final = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "é": "e", "è": "e", "ë": "e", "ç": "c",
     "á": "a", "í": "i", "ó": "o", "ú": "u", "ñ": "n", "ï": "i", "'": "", " ": ""}
)  # fmt: skip
_DAY: Final = 86_400.0  # seconds


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson-distributed count (Knuth's method; a normal approximation for large means)."""
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _orders(
    rng: random.Random, now: datetime, signup_days: float, favourite: str
) -> list[dict[str, Any]]:
    """A buyer's orders, newest first: a Poisson process from shortly after signup to churn."""
    rate = rng.lognormvariate(math.log(2.5), 0.8) / 365.0  # orders per day
    start = max(0.0, signup_days - rng.expovariate(1 / 20))  # days ago of the first order
    end = max(0.0, start - rng.expovariate(1 / 1500))  # days ago the buyer churned (or 0)
    ages = [start]
    age = start - rng.expovariate(rate)
    while age > end and len(ages) < 150:
        ages.append(age)
        age -= rng.expovariate(rate)
    orders = []
    for age in reversed(ages):
        category = favourite if rng.random() < 0.5 else rng.choice(CATEGORIES)
        total = round(rng.lognormvariate(math.log(65), 0.55), 2)
        at = now - timedelta(seconds=round(age * _DAY))
        orders.append({"at": _stamp(at), "total": f"{total:.2f}", "category": category})
    return orders


def _product(item: Sequence[str]) -> dict[str, Any]:
    sku, name, price, category = item
    slug = sku.lower()
    return {
        "sku": sku,
        "name": name,
        "price": price,
        "image": f"{SHOP}/img/{slug}.png",
        "url": f"{SHOP}/p/{slug}",
        "category": category,
    }


_PRODUCTS: Final = tuple(_product(item) for item in CATALOG)


def _recipient(rng: random.Random, index: int, seed: int, now: datetime) -> dict[str, Any]:
    draw = rng.random()
    locale, _, currency, zone, firsts, lasts = next(
        entry for entry, top in zip(_LOCALES, _CUMULATIVE, strict=True) if draw < top
    )
    first, last = rng.choice(firsts), rng.choice(lasts)
    rid = f"g{seed}-{index:06d}"
    address = f"{first}.{last}.{index}".lower().translate(_ASCII)
    signup_days = min(rng.expovariate(1 / 500), 2500.0)
    record: dict[str, Any] = {
        "id": rid,
        "email": f"{address}@example.com",
        "first_name": first,
        "last_name": last,
        "locale": locale,
        "currency": currency,
        "timezone": zone,
        "signup_at": _stamp(now - timedelta(seconds=round(signup_days * _DAY))),
    }
    favourite = rng.choice(CATEGORIES)
    orders = _orders(rng, now, signup_days, favourite) if rng.random() < 0.72 else []
    spend = sum(float(order["total"]) for order in orders)
    points = round(spend * 10 + rng.uniform(0, 200)) if orders else round(rng.uniform(0, 50))
    tier = "Gold" if spend >= 1200 else "Silver" if spend >= 400 else "Bronze"
    record.update(tier=tier, points=points)
    if orders:
        record["orders"] = orders
        counts = dict.fromkeys(CATEGORIES, 0)
        for order in orders:
            counts[order["category"]] += 1
        record["favorite_category"] = max(CATEGORIES, key=counts.__getitem__)
    # Engagement: a propensity, raised for recent buyers.
    recent = bool(orders) and orders[0]["at"] >= _stamp(now - timedelta(days=60))
    propensity = min(1.0, rng.betavariate(1.2, 3.0) + (0.25 if recent else 0.0))
    opens = _poisson(rng, propensity * 12)
    clicks = min(opens, _poisson(rng, opens * (0.15 + 0.3 * propensity)))
    visits = _poisson(rng, propensity * 8 + clicks)
    record.update(opens_30d=opens, clicks_30d=clicks, site_visits_30d=visits)
    if opens:
        days = rng.triangular(0, 30, 0)
        record["last_open_at"] = _stamp(now - timedelta(seconds=round(days * _DAY)))
    elif rng.random() < 0.5:
        days = rng.uniform(30, 400)
        record["last_open_at"] = _stamp(now - timedelta(seconds=round(days * _DAY)))
    if rng.random() < 0.06 + 0.15 * propensity:
        cart = []
        for product in rng.sample(_PRODUCTS, rng.choice((1, 1, 2, 3))):
            quantity = 1 if rng.random() < 0.8 else 2
            line = {key: value for key, value in product.items() if key != "category"}
            line.update(price=f"{float(product['price']) * quantity:.2f}", quantity=quantity)
            cart.append(line)
        record["cart"] = cart
    if rng.random() < 0.7:
        record["recommendations"] = [dict(p) for p in rng.sample(_PRODUCTS, rng.choice((2, 3)))]
    token = rng.getrandbits(40)
    record["links"] = {
        "shop": f"{SHOP}/shop?u={rid}",
        "cart": f"{SHOP}/cart?u={rid}",
        "preferences": f"{SHOP}/prefs?u={rid}",
        "unsubscribe": f"{SHOP}/unsubscribe?u={rid}&t={token:010x}",
    }
    return record


def generate(count: int, *, seed: int = 0, now: datetime = NOW) -> Iterator[dict[str, Any]]:
    """Yield ``count`` synthetic recipient records for the starter kit's schema, one by one.

    Args:
        count: How many records.
        seed: The same seed gives the same records, on any machine and Python process.
        now: The moment the data is relative to (orders, opens and signups lie before it).

    Raises:
        ValueError: ``count`` is negative or ``now`` has no time zone.
    """
    if count < 0:
        raise ValueError(f"count must be 0 or more, got {count}")
    if now.tzinfo is None:
        raise ValueError("now needs a time zone, e.g. datetime(2026, 11, 27, tzinfo=UTC)")
    rng = random.Random(seed)
    now = now.astimezone(UTC)
    for index in range(count):
        yield _recipient(rng, index, seed, now)


def write(out: TextIO, count: int, *, seed: int = 0, now: datetime = NOW) -> int:
    """Write ``count`` records to ``out`` as JSONL, line by line; returns the count."""
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
    written = 0
    for record in generate(count, seed=seed, now=now):
        out.write(dumps(record) + "\n")
        written += 1
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: ``generate_audience.py N [--seed S] [--out FILE] [--now ISO]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("count", type=int, metavar="N", help="how many recipients")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", type=Path, help="the JSONL file to write (default: stdout)")
    parser.add_argument(
        "--now",
        type=datetime.fromisoformat,
        default=NOW,
        help="ISO date-time with offset the data is relative to (default: the kit's pinned now)",
    )
    args = parser.parse_args(argv)
    if args.count < 0:
        parser.error(f"N must be 0 or more, got {args.count}")
    if args.now.tzinfo is None:
        parser.error("--now needs an offset, e.g. 2026-11-27T09:00:00+01:00")
    if args.out is None:
        try:
            write(sys.stdout, args.count, seed=args.seed, now=args.now)
            sys.stdout.flush()
        except BrokenPipeError:  # the reader left early, as `| head -1` does: stop quietly
            # Point stdout at /dev/null so that Python's own flush at exit cannot fail again
            # (https://docs.python.org/3/library/signal.html#note-on-sigpipe).
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1
        return 0
    with args.out.open("w", encoding="utf-8") as out:
        count = write(out, args.count, seed=args.seed, now=args.now)
    print(f"wrote {count:,} recipients to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
