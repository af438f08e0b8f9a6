"""The store: SQLAlchemy models, the engine and queries. Alembic migrations keep it current."""

from distributor.store.db import Store, open_store
from distributor.store.models import (
    ArticleRow,
    Base,
    ChannelState,
    Delivery,
    DeliveryEvent,
    DeliveryPart,
    Digest,
    SourceStateRow,
)

__all__ = [
    "ArticleRow",
    "Base",
    "ChannelState",
    "Delivery",
    "DeliveryEvent",
    "DeliveryPart",
    "Digest",
    "SourceStateRow",
    "Store",
    "open_store",
]
