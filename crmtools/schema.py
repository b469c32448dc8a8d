"""The canonical data model: table names, columns, types and rules.

Every loader maps its input onto these tables, and every analysis reads
these column names by default (callers may override them with ``*_col=``
keywords). The tables are:

``transactions``
    One row per order line. ``amount`` is the net line value
    (``quantity * unit_price``); returns and cancellations are lines with a
    negative quantity and amount.
``customers``
    One row per customer; personal fields (name, email, phone) are allowed in
    the input but are never shown in reports.
``products``
    One row per product.
``campaigns``
    One row per campaign, with its cost.
``campaign_contacts``
    Who was assigned to each campaign, in the ``treatment`` or ``holdout`` group.
``experiments``
    One row per unit (customer or visitor) exposed to an experiment variant.
``suppressions``
    Customers who must not be contacted (``opt_out``, ``complaint``) or whose data must be erased
    (``erasure``: removed from every table before any analysis, see :mod:`crmtools.privacy`).
``surveys``
    One row per answer to the "how likely are you to recommend us" question (0-10), for NPS.

Datetimes are timezone-naive and expressed in the business time zone (the
``timezone`` parameter, default ``Asia/Tokyo``); timezone-aware input is
converted to that zone on load, then made naive.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "CAMPAIGNS",
    "CAMPAIGN_CONTACTS",
    "CUSTOMERS",
    "EXPERIMENTS",
    "PERSONAL_COLUMNS",
    "PRODUCTS",
    "SUPPRESSIONS",
    "SURVEYS",
    "TABLES",
    "TRANSACTIONS",
    "Column",
    "TableSpec",
]


@dataclass(frozen=True)
class Column:
    """One column of a canonical table.

    Parameters
    ----------
    name : str
        Canonical column name.
    dtype : {"str", "int", "float", "datetime", "bool"}
        Logical type.
    required : bool, default=True
        Whether the column must be present.
    nullable : bool, default=False
        Whether missing values are allowed.
    min_value : float or None, default=None
        Smallest allowed value (inclusive), for numeric columns.
    max_value : float or None, default=None
        Largest allowed value (inclusive), for numeric columns.
    allowed : tuple of str or None, default=None
        Allowed values, for categorical string columns.
    description : str, default=""
        What the column means, for the README and error messages.
    """

    name: str
    dtype: str
    required: bool = True
    nullable: bool = False
    min_value: float | None = None
    max_value: float | None = None
    allowed: tuple[str, ...] | None = None
    description: str = ""


@dataclass(frozen=True)
class TableSpec:
    """A canonical table: its columns and its primary key."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = field(default_factory=tuple)

    @property
    def required(self) -> list[str]:
        """Names of the required columns, in order."""
        return [c.name for c in self.columns if c.required]

    @property
    def names(self) -> list[str]:
        """Names of all known columns, in order."""
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        """Return the column called ``name``."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


TRANSACTIONS = TableSpec(
    "transactions",
    (
        Column("order_id", "str", description="order (invoice) identifier"),
        Column("customer_id", "str", nullable=True, description="customer identifier; missing for guest orders"),
        Column("order_datetime", "datetime", description="when the order was placed, business time zone"),
        Column("product_id", "str", description="product (SKU) identifier"),
        Column("quantity", "int", description="units; negative for returns and cancellations"),
        Column("unit_price", "float", min_value=0.0, description="price per unit, never negative"),
        Column("amount", "float", description="net line value = quantity * unit_price"),
        Column("channel", "str", description="sales channel, e.g. web, app, phone, catalog"),
        Column("product_name", "str", required=False, nullable=True, description="readable product label"),
        Column("category", "str", required=False, nullable=True, description="product category"),
        Column("campaign_id", "str", required=False, nullable=True, description="campaign the order is attributed to"),
        Column("store", "str", required=False, nullable=True, description="store or shop"),
    ),
    key=("order_id", "product_id"),
)

CUSTOMERS = TableSpec(
    "customers",
    (
        Column("customer_id", "str", description="customer identifier"),
        Column("first_seen", "datetime", description="signup or first-seen date"),
        Column("acquisition_channel", "str", required=False, nullable=True, description="channel of acquisition"),
        Column("region", "str", required=False, nullable=True, description="region or prefecture"),
        Column(
            "member_since", "datetime", required=False, nullable=True, description="membership start; empty if none"
        ),
        Column("referred_by", "str", required=False, nullable=True, description="customer id of the referrer"),
        Column(
            "marketing_consent",
            "bool",
            required=False,
            nullable=True,
            description="agreed to marketing (true/false); missing = not consented unless privacy.consent_default",
        ),
        Column("name", "str", required=False, nullable=True, description="personal: never reported"),
        Column("email", "str", required=False, nullable=True, description="personal: never reported"),
        Column("phone", "str", required=False, nullable=True, description="personal: never reported"),
    ),
    key=("customer_id",),
)

PRODUCTS = TableSpec(
    "products",
    (
        Column("product_id", "str", description="product (SKU) identifier"),
        Column("product_name", "str", description="readable product label"),
        Column("category", "str", description="product category"),
        Column("list_price", "float", required=False, nullable=True, min_value=0.0, description="catalogue price"),
    ),
    key=("product_id",),
)

CAMPAIGNS = TableSpec(
    "campaigns",
    (
        Column("campaign_id", "str", description="campaign identifier"),
        Column("name", "str", description="campaign name"),
        Column("channel", "str", description="channel: email, dm (direct mail), coupon, ads ..."),
        Column("start_date", "datetime", description="first day of the campaign"),
        Column("end_date", "datetime", description="last day of the response window"),
        Column("cost", "float", min_value=0.0, description="total cost of the campaign"),
    ),
    key=("campaign_id",),
)

CAMPAIGN_CONTACTS = TableSpec(
    "campaign_contacts",
    (
        Column("campaign_id", "str", description="campaign identifier"),
        Column("customer_id", "str", description="customer identifier"),
        Column("group", "str", allowed=("treatment", "holdout"), description="treatment or holdout"),
        Column("contacted_at", "datetime", description="when the customer was contacted (or would have been)"),
    ),
    key=("campaign_id", "customer_id"),
)

EXPERIMENTS = TableSpec(
    "experiments",
    (
        Column("experiment_id", "str", description="experiment identifier"),
        Column("variant", "str", description="variant name; the control is called 'control'"),
        Column("unit_id", "str", description="randomisation unit (customer or visitor)"),
        Column("exposed_at", "datetime", description="first exposure"),
        Column("converted", "bool", description="whether the unit converted"),
        Column("revenue", "float", required=False, nullable=True, description="revenue from the unit after exposure"),
    ),
    key=("experiment_id", "unit_id"),
)

SURVEYS = TableSpec(
    "surveys",
    (
        Column("customer_id", "str", description="customer identifier"),
        Column("responded_at", "datetime", description="when the customer answered"),
        Column("score", "int", min_value=0.0, max_value=10.0, description="likelihood to recommend, 0-10"),
        Column("channel", "str", required=False, nullable=True, description="where the survey was answered"),
    ),
    key=("customer_id", "responded_at"),
)

SUPPRESSIONS = TableSpec(
    "suppressions",
    (
        Column("customer_id", "str", description="customer identifier"),
        Column(
            "reason",
            "str",
            allowed=("opt_out", "erasure", "complaint"),
            description="opt_out or complaint (never contacted), erasure (removed from every table)",
        ),
        Column("since", "datetime", nullable=True, description="when it took effect; empty = always"),
    ),
    key=("customer_id", "reason"),
)

TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (TRANSACTIONS, CUSTOMERS, PRODUCTS, CAMPAIGNS, CAMPAIGN_CONTACTS, EXPERIMENTS, SURVEYS, SUPPRESSIONS)
}

#: Columns that may hold personal data; reports must never show them.
PERSONAL_COLUMNS: frozenset[str] = frozenset({"name", "email", "phone", "customer_id", "unit_id"})
