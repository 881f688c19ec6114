"""Typed settings, read from the environment (ASSEMBLY_*) or given by the CLI and tests."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_VAR_DIR = Path("var")


class SettingsError(ValueError):
    """A setting from the environment cannot be used; the message says which and why."""


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"{name} must be true or false, not {raw!r}")


def _int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None


def default_database_url(var_dir: Path = DEFAULT_VAR_DIR) -> str:
    return f"sqlite+aiosqlite:///{var_dir / 'assembly.sqlite3'}"


def default_channel_prefix(database_url: str) -> str:
    """The PostgreSQL database's name: the processes of one deployment share their database,
    two deployments on one server use two. SQLite serves one process: no prefix."""
    if not database_url.startswith("postgresql"):
        return ""
    return urlsplit(database_url).path.lstrip("/")


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the server needs to know; built once and handed to create_app()."""

    database_url: str = field(default_factory=default_database_url)
    redis_url: str | None = None
    # Redis hands a message to every subscriber of its channel, whatever database number they
    # chose: the processes of one deployment share a prefix, deployments sharing a Redis don't.
    channel_prefix: str = ""
    secret_key: str = ""
    public_url: str = "http://127.0.0.1:8000"
    templates_dir: Path = PROJECT_ROOT / "templates"
    session_max_age_s: int = 14 * 24 * 3600
    cookie_secure: bool = False
    debug: bool = False
    # A dev server may start without a key; the key then changes at every start, which
    # invalidates encrypted login tokens, so `serve` refuses that outside demo mode.
    ephemeral_secret: bool = False
    # Tests turn pooling off: their clients run the app in event loops of their own, and an
    # asyncpg connection cannot move between loops.
    database_pool: bool = True
    # The audit log's signing key, sealed by `assembly audit keygen`, and its passphrase.
    # Without a file the app signs with a key made at start (tests, and `demo` before it
    # writes one); `serve` refuses that, since checkpoints must verify after a restart.
    audit_key_file: Path | None = None
    audit_passphrase: str = ""

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        values: dict[str, object] = {}
        if url := env.get("ASSEMBLY_DATABASE_URL"):
            values["database_url"] = normalise_database_url(url)
        if redis := env.get("ASSEMBLY_REDIS_URL"):
            values["redis_url"] = redis
        derived = default_channel_prefix(str(values.get("database_url", "")))
        if prefix := env.get("ASSEMBLY_CHANNEL_PREFIX", derived):
            values["channel_prefix"] = prefix
        if key := env.get("ASSEMBLY_SECRET_KEY"):
            if len(key) < 32:
                raise SettingsError("ASSEMBLY_SECRET_KEY must be at least 32 characters long")
            values["secret_key"] = key
        if public := env.get("ASSEMBLY_PUBLIC_URL"):
            values["public_url"] = public.rstrip("/")
        if tdir := env.get("ASSEMBLY_TEMPLATES_DIR"):
            values["templates_dir"] = Path(tdir)
        if age := env.get("ASSEMBLY_SESSION_MAX_AGE"):
            values["session_max_age_s"] = _int("ASSEMBLY_SESSION_MAX_AGE", age)
        if secure := env.get("ASSEMBLY_COOKIE_SECURE"):
            values["cookie_secure"] = _bool("ASSEMBLY_COOKIE_SECURE", secure)
        if key_file := env.get("ASSEMBLY_AUDIT_KEY_FILE"):
            values["audit_key_file"] = Path(key_file)
        if passphrase := env.get("ASSEMBLY_AUDIT_PASSPHRASE"):
            values["audit_passphrase"] = passphrase
        if debug := env.get("ASSEMBLY_DEBUG"):
            values["debug"] = _bool("ASSEMBLY_DEBUG", debug)
        settings = cls(**values)  # type: ignore[arg-type]
        if not settings.secret_key:
            settings = replace(
                settings, secret_key=secrets.token_urlsafe(48), ephemeral_secret=True
            )
        return settings

    @property
    def over_https(self) -> bool:
        """Served over https: cookies are Secure (even if ASSEMBLY_COOKIE_SECURE was
        forgotten) and browsers are told to keep to https (HSTS)."""
        return self.public_url.startswith("https://")

    @property
    def secure_cookies(self) -> bool:
        return self.cookie_secure or self.over_https

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        _, _, path = self.database_url.partition(":///")
        return Path(path) if path and path != ":memory:" else None


def normalise_database_url(url: str) -> str:
    """Accept the plain URLs people copy from docs and pick the async driver we ship."""
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
    if url.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
        return url
    raise SettingsError(
        "ASSEMBLY_DATABASE_URL must be a postgresql:// or sqlite:/// URL, "
        f"not {url.split(':')[0]!r}"
    )
