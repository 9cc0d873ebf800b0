"""Configuration from environment variables, with defaults that suit a local run.

Every process reads its settings here, once, at start-up; nameko's own keys (broker URI, worker
counts) are also substituted from the same variables in each service's ``config.yaml``.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_AMQP_URI = "pyamqp://guest:guest@127.0.0.1:5672//"
DEFAULT_MONGO_URI = "mongodb://127.0.0.1:27017/?directConnection=true"


def _flag(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _names(value: str) -> tuple[str, ...]:
    """A comma-separated list, lower-cased, without blanks or repeats."""
    return tuple(sorted({name.strip().lower() for name in value.split(",")} - {""}))


@dataclass(frozen=True)
class Settings:
    amqp_uri: str
    mongo_uri: str
    organiser_token: str
    sensitive_data_key: str
    public_base_url: str
    default_expo_id: str
    default_expo_name_ko: str
    default_expo_name_en: str
    smtp_host: str
    smtp_port: int
    smtp_username: str
    smtp_password: str
    smtp_starttls: bool
    mail_from: str
    smtp_retry_base_seconds: float
    rpc_timeout: float
    gateway_max_queue_seconds: float
    log_level: str
    log_format: str
    matching_top_n: int
    matching_rematch_minutes: float
    suggestion_digest_minutes: float
    suggestion_daily_hour: int
    reminder_hour: int
    profile_changes_per_hour: int
    organiser_emails: tuple[str, ...]
    organiser_sensitive_emails: tuple[str, ...]
    sign_in_link_minutes: float
    session_hours: float
    gateway_secret_key: str
    registrations_per_client_per_minute: int
    sign_ins_per_client_per_minute: int
    email_reserved_domains_allowed: tuple[str, ...]
    caller_signing_key: str
    notification_retention_days: float
    cancelled_retention_days: float
    retention_days_after_expo: float
    promotion_hold_minutes: float

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Settings":
        get = environ.get
        return cls(
            amqp_uri=get("AMQP_URI", DEFAULT_AMQP_URI),
            mongo_uri=get("MONGO_URI", DEFAULT_MONGO_URI),
            organiser_token=get("ORGANISER_TOKEN", ""),
            sensitive_data_key=get("SENSITIVE_DATA_KEY", ""),
            public_base_url=get("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/"),
            default_expo_id=get("DEFAULT_EXPO_ID", "expo-2026"),
            default_expo_name_ko=get("DEFAULT_EXPO_NAME_KO", "2026 기술동행 박람회"),
            default_expo_name_en=get("DEFAULT_EXPO_NAME_EN", "Tech Companion Expo 2026"),
            smtp_host=get("SMTP_HOST", "127.0.0.1"),
            smtp_port=int(get("SMTP_PORT", "1025")),
            smtp_username=get("SMTP_USERNAME", ""),
            smtp_password=get("SMTP_PASSWORD", ""),
            smtp_starttls=_flag(get("SMTP_STARTTLS", "false")),
            mail_from=get("MAIL_FROM", "Tech Companion Expo <no-reply@expo.example.org>"),
            smtp_retry_base_seconds=float(get("SMTP_RETRY_BASE_SECONDS", "5")),
            rpc_timeout=float(get("RPC_TIMEOUT", "10")),
            gateway_max_queue_seconds=float(get("GATEWAY_MAX_QUEUE_SECONDS", "1")),
            log_level=get("LOG_LEVEL", "INFO").upper(),
            log_format=get("LOG_FORMAT", "json"),
            matching_top_n=int(get("MATCHING_TOP_N", "100")),
            matching_rematch_minutes=float(get("MATCHING_REMATCH_MINUTES", "30")),
            suggestion_digest_minutes=float(get("SUGGESTION_DIGEST_MINUTES", "60")),
            suggestion_daily_hour=int(get("SUGGESTION_DAILY_HOUR", "9")),
            reminder_hour=int(get("REMINDER_HOUR", "10")),
            profile_changes_per_hour=int(get("PROFILE_CHANGES_PER_HOUR", "6")),
            organiser_emails=_names(get("ORGANISER_EMAILS", "")),
            organiser_sensitive_emails=_names(get("ORGANISER_SENSITIVE_EMAILS", "")),
            sign_in_link_minutes=float(get("SIGN_IN_LINK_MINUTES", "15")),
            session_hours=float(get("SESSION_HOURS", "12")),
            gateway_secret_key=get("GATEWAY_SECRET_KEY", ""),
            registrations_per_client_per_minute=int(get("REGISTRATIONS_PER_CLIENT_PER_MINUTE", "20")),
            sign_ins_per_client_per_minute=int(get("SIGN_INS_PER_CLIENT_PER_MINUTE", "5")),
            email_reserved_domains_allowed=_names(get("EMAIL_RESERVED_DOMAINS_ALLOWED", "")),
            caller_signing_key=get("CALLER_SIGNING_KEY", ""),
            notification_retention_days=float(get("NOTIFICATION_RETENTION_DAYS", "30")),
            cancelled_retention_days=float(get("CANCELLED_RETENTION_DAYS", "30")),
            retention_days_after_expo=float(get("RETENTION_DAYS_AFTER_EXPO", "90")),
            promotion_hold_minutes=float(get("PROMOTION_HOLD_MINUTES", "0")),
        )
