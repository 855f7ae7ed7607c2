from __future__ import annotations

from learnbot.storage import LinkedAccount, User


def user_view(user: User) -> dict[str, object]:
    return {
        "id": user.id,
        "telegram_id": user.telegram_id,
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "language_code": user.language_code,
        "is_premium": user.is_premium,
        "photo_url": user.photo_url,
        "created_at": user.created_at.isoformat(),
        "locale": user.locale,
    }


def admin_user_view(user: User) -> dict[str, object]:
    return {
        **user_view(user),
        "is_blocked": user.is_blocked,
        "source": user.source,
        "last_seen_at": user.last_seen_at.isoformat(),
    }


def account_view(account: LinkedAccount) -> dict[str, object]:
    return {
        "provider": account.provider,
        "external_id": account.external_id,
        "display_name": account.display_name,
        "linked_at": account.linked_at.isoformat(),
        "verified": account.verified,
    }
