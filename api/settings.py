"""The one settings object, read from the environment (``SIB_*`` and ``DATABASE_URL``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _default_database_url() -> str:
    return f"sqlite:///{PROJECT_ROOT / 'var' / 'sib.db'}"


@dataclass(frozen=True)
class Settings:
    """Runtime settings.

    Attributes:
        database_url: SQLAlchemy URL; a SQLite file under ``var/`` unless ``DATABASE_URL`` says
            ``postgresql+psycopg://…``.
        log_level: ``INFO`` unless ``SIB_LOG_LEVEL`` says otherwise.
        out_dir: where documents and exports are written by default.
        token_lifetime_days: how long a new API token is valid (``SIB_TOKEN_LIFETIME_DAYS``,
            default 90).
        auth_failures_per_minute: failed authentications a client address may make in a
            minute before it is refused with 429 (``SIB_AUTH_FAILURES_PER_MINUTE``, default
            10).
        chain_key: the key sealing the records that decide money (``SIB_CHAIN_KEY``, kept
            outside the database); empty: seals are plain SHA-256, which anyone able to edit
            the database can recompute.
    """

    database_url: str = field(default_factory=_default_database_url)
    log_level: str = "INFO"
    out_dir: Path = PROJECT_ROOT / "out"
    host: str = "127.0.0.1"
    port: int = 8000
    token_lifetime_days: int = 90
    auth_failures_per_minute: int = 10
    chain_key: str = field(default="", repr=False)

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database_url=os.environ.get("DATABASE_URL") or _default_database_url(),
            log_level=os.environ.get("SIB_LOG_LEVEL", "INFO"),
            out_dir=Path(os.environ.get("SIB_OUT_DIR", str(PROJECT_ROOT / "out"))),
            host=os.environ.get("SIB_HOST", "127.0.0.1"),
            port=int(os.environ.get("SIB_PORT", "8000")),
            token_lifetime_days=int(os.environ.get("SIB_TOKEN_LIFETIME_DAYS", "90")),
            auth_failures_per_minute=int(os.environ.get("SIB_AUTH_FAILURES_PER_MINUTE", "10")),
            chain_key=os.environ.get("SIB_CHAIN_KEY", ""),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings.from_env()
