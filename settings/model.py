"""The settings object itself: a pydantic-settings class, imported only when something needs more
than the database URL (`settings/__init__.py` says why)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from settings import DEFAULT_DATABASE_URL, ENV_FILE, normalise_database_url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=ENV_FILE, extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    # PostgreSQL with a restricted app role: the schema owner's URL, used only to migrate (and
    # then to grant the app's role its privileges). Unset: DATABASE_URL migrates too.
    migration_database_url: str | None = None
    # Decimal places of the currency's minor unit (2 for USD cents). At most 2: the ledger's
    # columns hold 2 places, and a finer unit would be rounded away by PostgreSQL.
    currency_places: int = Field(default=2, ge=0, le=2)

    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    openai_timeout_seconds: float = Field(default=20.0, gt=0)
    openai_max_retries: int = Field(default=1, ge=0, le=5)

    # The master key of core.base.keys (audit MACs, secrets at rest): kept outside the database.
    # Unset: a key file, at PA_AUDIT_KEY_FILE or beside the SQLite database, made on first use.
    pa_audit_key: SecretStr | None = None
    pa_audit_key_file: str | None = None
    # The dashboard's public address (https://allocation.example.org), put before invitation
    # links; without it a link is the path alone (/?invite=CODE).
    pa_public_url: str | None = None
    # Webhook endpoints on loopback, private, link-local, multicast or reserved addresses are
    # refused unless this is set (PA_WEBHOOK_ALLOW_PRIVATE=1): a receiver inside the network.
    pa_webhook_allow_private: bool = False
    # Days the webhook outbox keeps an event and its delivery log once nothing of it is pending.
    # Unset: core.jobs.webhooks.RETENTION_DAYS (30), the one place that number is written.
    pa_webhook_retention_days: int | None = None

    rebalance_cron: str = "0 0 * * *"
    weekly_report_cron: str = "0 9 * * 1"

    @field_validator("database_url")
    @classmethod
    def _normalise(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator("migration_database_url")
    @classmethod
    def _normalise_migration(cls, value: str | None) -> str | None:
        return normalise_database_url(value) if value and value.strip() else None

    @property
    def minor_unit(self) -> Decimal:
        return Decimal(1).scaleb(-self.currency_places)

    @property
    def has_openai_key(self) -> bool:
        return self.openai_api_key is not None and bool(self.openai_api_key.get_secret_value())

