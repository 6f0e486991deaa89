"""Conveyor's persistence (layer 5): what must survive a restart or a crash lives here.

SQLAlchemy 2 with an async engine, schema by Alembic migrations; a SQLite file under
CONVEYOR_HOME by default, PostgreSQL when CONVEYOR_DATABASE_URL says so. Callers import from
this package, not from its modules, so the layout can change behind them.
"""

from __future__ import annotations

from conveyor.store.ci_runs import CiRunStore
from conveyor.store.db import Database, dumps_json, mask_url, open_database
from conveyor.store.engine_store import EngineStore
from conveyor.store.promotions import PromotionStore
from conveyor.store.runtime_state import RuntimeStateStore
from conveyor.store.tables import Base, DeploymentRow, RuntimeObject, RuntimePort
from conveyor.store.tokens import TokenInfo, TokenStore, hash_token

__all__ = [
    "Base",
    "CiRunStore",
    "Database",
    "DeploymentRow",
    "EngineStore",
    "PromotionStore",
    "RuntimeObject",
    "RuntimePort",
    "RuntimeStateStore",
    "TokenInfo",
    "TokenStore",
    "dumps_json",
    "hash_token",
    "mask_url",
    "open_database",
]
