"""The product's own keys, kept outside the database: the audit key (HMACs that make the record
prove itself) and the box key (secrets the product must read back, such as webhook signing
secrets and TOTP secrets, encrypted at rest).

Both are derived from one master key, so there is one thing to keep and back up:
1. `PA_AUDIT_KEY` in the environment (at least 32 characters), else
2. the key file at `PA_AUDIT_KEY_FILE`, else
3. `audit.key` beside the SQLite database file, else `data/audit.key` (PostgreSQL, in-memory SQLite).
A missing key file is made on first use, mode 0600, with 256 random bits; one readable by group or
others is refused, as ssh refuses such a private key. The master key never enters the database:
a database reader (or the app's own role writing raw SQL) can then neither forge a MAC nor read a
sealed secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa

from core.base.errors import KeyUnavailable

MIN_KEY_CHARS = 32
KEY_FILE_NAME = "audit.key"
FALLBACK_KEY_DIR = Path("data")
# Labels of the derived keys: changing one changes every MAC or makes every sealed secret unreadable.
_AUDIT_LABEL = b"profit-allocation audit mac v1"
_BOX_LABEL = b"profit-allocation secret box v1"


@dataclass(frozen=True)
class Keys:
    audit: bytes
    box: bytes

    def mac(self, *parts: object) -> str:
        """HMAC-SHA256 (hex) over `parts`, each written as text and length-prefixed, so that
        ("ab", "c") and ("a", "bc") never share a MAC. None is written apart from "None"."""
        message = b"".join(_framed(part) for part in parts)
        return hmac.new(self.audit, message, hashlib.sha256).hexdigest()

    def verify(self, expected_mac: str | None, *parts: object) -> bool:
        return expected_mac is not None and hmac.compare_digest(expected_mac, self.mac(*parts))

    def seal(self, secret: str) -> str:
        """`secret` encrypted and authenticated (Fernet: AES-128-CBC with HMAC-SHA256)."""
        return self._fernet().encrypt(secret.encode("utf-8")).decode("ascii")

    def open(self, sealed: str) -> str:
        """The secret `seal` made; KeyUnavailable when it was sealed under another key or altered."""
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet().decrypt(sealed.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError, UnicodeError):
            raise KeyUnavailable("audit key: a stored secret cannot be opened with this key "
                                 "(sealed under another key, or altered)") from None

    def _fernet(self):  # noqa: ANN202 - cryptography is imported only when a secret is used
        from cryptography.fernet import Fernet

        return Fernet(base64.urlsafe_b64encode(self.box))


def _framed(part: object) -> bytes:
    text = ("\x00none" if part is None else str(part)).encode("utf-8", "surrogatepass")
    return len(text).to_bytes(8, "big") + text


def derive(master: bytes) -> Keys:
    return Keys(audit=hmac.new(master, _AUDIT_LABEL, hashlib.sha256).digest(),
                box=hmac.new(master, _BOX_LABEL, hashlib.sha256).digest())


def key_file_for(database_url: str) -> Path:
    """Where the master key lives when the environment gives none (see the module's docstring)."""
    from settings import get_settings

    configured = get_settings().pa_audit_key_file
    if configured:
        return Path(configured)
    url = sa.make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:" \
            and not url.database.startswith("file:"):
        return Path(url.database).parent / KEY_FILE_NAME
    return FALLBACK_KEY_DIR / KEY_FILE_NAME


def _read_or_make(path: Path) -> bytes:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_hex(32) + "\n")
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyUnavailable(f"audit key: the key file {path} may be read by group or others "
                                 "(chmod 600 it)")
        text = path.read_text(encoding="ascii").strip()
    except OSError as error:
        raise KeyUnavailable(f"audit key: the key file {path} cannot be read or made "
                             f"({error.strerror})") from None
    except UnicodeError:
        raise KeyUnavailable(f"audit key: the key file {path} is not a key") from None
    if len(text) < MIN_KEY_CHARS:
        raise KeyUnavailable(f"audit key: the key file {path} holds fewer than {MIN_KEY_CHARS} "
                             "characters")
    return text.encode("ascii")


@lru_cache(maxsize=8)
def _keys(database_url: str, from_environment: str | None) -> Keys:
    if from_environment is not None:
        if len(from_environment) < MIN_KEY_CHARS:
            raise KeyUnavailable(f"PA_AUDIT_KEY: must be at least {MIN_KEY_CHARS} characters")
        return derive(from_environment.encode("utf-8"))
    return derive(_read_or_make(key_file_for(database_url)))


def keys_for(bind: sa.Engine | sa.Connection | object) -> Keys:
    """The keys for the database behind `bind` (an engine, a connection, or a session)."""
    from settings import get_settings

    engine = bind.get_bind() if hasattr(bind, "get_bind") else bind
    url = engine.engine.url if isinstance(engine, sa.Connection) else engine.url
    secret = get_settings().pa_audit_key
    return _keys(url.render_as_string(hide_password=False),
                 secret.get_secret_value() if secret is not None else None)
