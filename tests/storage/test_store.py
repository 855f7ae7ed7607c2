from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest

from learnbot.storage import (
    AccountConflict,
    InvalidCursor,
    LinkedAccount,
    OAuthState,
    TelegramProfile,
    UserStore,
)
from learnbot.storage.base import PRUNE_EVERY, UPDATES_KEPT

T0 = datetime(2025, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


def profile(telegram_id: int = 1001, **changes: object) -> TelegramProfile:
    fields: dict[str, object] = {
        "telegram_id": telegram_id,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "username": "ada",
        "language_code": "en",
        "is_premium": False,
        "photo_url": "https://t.me/i/userpic/ada.jpg",
    }
    fields.update(changes)
    return TelegramProfile(**fields)  # type: ignore[arg-type]


async def test_migrate_again_applies_nothing(store: UserStore) -> None:
    assert await store.migrate() == []
    state = await store.migration_state()
    assert state.current
    assert state.applied >= 1


async def test_upsert_creates_a_user(store: UserStore) -> None:
    sign_in = await store.upsert_user(profile(), T0)

    assert sign_in.created
    user = sign_in.user
    assert user.id >= 1
    assert (user.telegram_id, user.first_name, user.last_name) == (1001, "Ada", "Lovelace")
    assert (user.username, user.language_code, user.is_premium) == ("ada", "en", False)
    assert user.photo_url == "https://t.me/i/userpic/ada.jpg"
    assert not user.is_blocked
    assert user.created_at == user.last_seen_at == T0
    assert user.created_at.tzinfo == UTC
    assert await store.get_user(1001) == user


async def test_upsert_refreshes_an_existing_user(store: UserStore) -> None:
    first = await store.upsert_user(profile(), T0)
    later = T0 + timedelta(days=2, microseconds=7)
    changed = profile(
        first_name="Augusta",
        last_name=None,
        username=None,
        language_code="ru",
        is_premium=True,
        photo_url=None,
    )

    second = await store.upsert_user(changed, later)

    assert not second.created
    user = second.user
    assert user.id == first.user.id
    assert (user.first_name, user.last_name, user.username) == ("Augusta", None, None)
    assert (user.language_code, user.is_premium, user.photo_url) == ("ru", True, None)
    assert user.created_at == T0
    assert user.last_seen_at == later
    assert await store.get_user(1001) == user


async def test_a_returning_unchanged_sign_in_within_the_interval_writes_nothing(
    store: UserStore,
) -> None:
    first = (await store.upsert_user(profile(), T0)).user

    again = await store.upsert_user(profile(), T0 + timedelta(seconds=299))

    assert not again.created
    # last_seen_at is accurate to the interval: the row is as the first sign-in left it.
    assert again.user == first
    assert await store.get_user(1001) == first


async def test_a_last_seen_older_than_the_interval_is_refreshed(store: UserStore) -> None:
    await store.upsert_user(profile(), T0)
    later = T0 + timedelta(seconds=300)

    user = (await store.upsert_user(profile(), later)).user

    assert user.last_seen_at == later
    assert await store.get_user(1001) == user


@pytest.mark.parametrize(
    "change",
    [
        {"first_name": "Augusta"},
        {"last_name": None},
        {"username": "ada2"},
        {"language_code": "ru"},
        {"is_premium": True},
        {"photo_url": None},
    ],
)
async def test_a_changed_profile_field_is_written_at_once(
    store: UserStore, change: dict[str, object]
) -> None:
    await store.upsert_user(profile(), T0)
    later = T0 + timedelta(seconds=10)

    user = (await store.upsert_user(profile(1001, **change), later)).user

    ((field, value),) = change.items()
    assert getattr(user, field) == value
    assert user.last_seen_at == later
    assert await store.get_user(1001) == user


async def test_upsert_never_unblocks(store: UserStore) -> None:
    await store.upsert_user(profile(), T0)
    await store.set_blocked(1001, True)

    again = await store.upsert_user(profile(), T0 + timedelta(seconds=1))

    assert again.user.is_blocked


async def test_upsert_leaves_a_blocked_user_unchanged(store: UserStore) -> None:
    await store.upsert_user(profile(), T0)
    blocked = await store.set_blocked(1001, True)

    again = await store.upsert_user(
        profile(first_name="Mallory", username="mallory", photo_url=None),
        T0 + timedelta(days=1),
    )

    assert not again.created
    assert again.user == blocked
    assert await store.get_user(1001) == blocked


async def test_timestamps_come_back_as_utc(store: UserStore) -> None:
    moscow = timezone(timedelta(hours=3))
    seen = datetime(2025, 3, 1, 15, 30, 15, 123456, tzinfo=moscow)

    user = (await store.upsert_user(profile(), seen)).user

    assert user.last_seen_at == T0
    assert user.last_seen_at.tzinfo == UTC
    assert user.last_seen_at.utcoffset() == timedelta(0)


async def test_naive_timestamps_are_refused(store: UserStore) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        await store.upsert_user(profile(), T0.replace(tzinfo=None))


@pytest.mark.parametrize("telegram_id", [2**52 - 1, 2**52, 2**52 + 1, 2**63 - 1])
async def test_large_telegram_ids_round_trip(store: UserStore, telegram_id: int) -> None:
    created = await store.upsert_user(profile(telegram_id), T0)

    assert created.user.telegram_id == telegram_id
    fetched = await store.get_user(telegram_id)
    assert fetched is not None
    assert fetched.telegram_id == telegram_id
    assert await store.get_user(telegram_id - 1) is None


async def test_unicode_names_round_trip(store: UserStore) -> None:
    names = profile(first_name="Ёжик 🦔", last_name="李小龍 مرحبا", username="zoë_ß")

    user = (await store.upsert_user(names, T0)).user

    assert (user.first_name, user.last_name, user.username) == ("Ёжик 🦔", "李小龍 مرحبا", "zoë_ß")
    assert await store.get_user(1001) == user


async def test_an_unknown_user_is_none(store: UserStore) -> None:
    assert await store.get_user(404) is None


async def test_a_user_and_their_accounts_read_together(store: UserStore) -> None:
    assert await store.get_user_with_accounts(1001) is None
    user = (await store.upsert_user(profile(), T0)).user
    assert await store.get_user_with_accounts(1001) == (user, [])

    later = T0 + timedelta(microseconds=1)
    github, _ = await store.link_account(user.id, "github", "gh-1", "ada 'gh' \"x\" \\", later)
    apple, _ = await store.link_account(user.id, "apple", "a-1", None, T0)
    other = (await store.upsert_user(profile(2002), T0)).user
    await store.link_account(other.id, "google", "g-2", "Bo", T0)

    assert await store.get_user_with_accounts(1001) == (user, [apple, github])
    assert await store.get_user_with_accounts(1001) == (
        await store.get_user(1001),
        await store.list_accounts(user.id),
    )


async def test_link_then_list_by_provider(store: UserStore) -> None:
    user = (await store.upsert_user(profile(), T0)).user

    github, github_new = await store.link_account(user.id, "github", "gh-1", "ada-gh", T0)
    google, google_new = await store.link_account(user.id, "google", "g-1", None, T0)
    apple, apple_new = await store.link_account(user.id, "apple", "a-1", "Ada", T0)

    assert (github_new, google_new, apple_new) == (True, True, True)
    assert github == LinkedAccount("github", "gh-1", "ada-gh", T0)
    assert google == LinkedAccount("google", "g-1", None, T0)
    assert await store.list_accounts(user.id) == [apple, github, google]
    assert await store.list_accounts(user.id + 1000) == []


async def test_relinking_the_same_account_updates_its_name(store: UserStore) -> None:
    user = (await store.upsert_user(profile(), T0)).user
    await store.link_account(user.id, "github", "gh-1", "old name", T0)

    account, new = await store.link_account(
        user.id, "github", "gh-1", "new name", T0 + timedelta(hours=1)
    )

    assert not new
    assert account == LinkedAccount("github", "gh-1", "new name", T0)
    assert await store.list_accounts(user.id) == [account]


async def test_a_second_account_of_a_provider_conflicts_as_linked(store: UserStore) -> None:
    user = (await store.upsert_user(profile(), T0)).user
    await store.link_account(user.id, "github", "gh-1", None, T0)

    with pytest.raises(AccountConflict) as caught:
        await store.link_account(user.id, "github", "gh-2", None, T0)

    assert (caught.value.provider, caught.value.reason) == ("github", "linked")
    assert [a.external_id for a in await store.list_accounts(user.id)] == ["gh-1"]


async def test_an_account_of_another_user_conflicts_as_taken(store: UserStore) -> None:
    owner = (await store.upsert_user(profile(1), T0)).user
    other = (await store.upsert_user(profile(2), T0)).user
    await store.link_account(owner.id, "github", "gh-1", "owner", T0)

    with pytest.raises(AccountConflict) as caught:
        await store.link_account(other.id, "github", "gh-1", "thief", T0)

    assert (caught.value.provider, caught.value.reason) == ("github", "taken")
    assert await store.list_accounts(other.id) == []
    assert [a.display_name for a in await store.list_accounts(owner.id)] == ["owner"]


async def test_unlink(store: UserStore) -> None:
    user = (await store.upsert_user(profile(), T0)).user
    await store.link_account(user.id, "github", "gh-1", None, T0)
    await store.link_account(user.id, "google", "g-1", None, T0)

    assert await store.unlink_account(user.id, "github")
    assert not await store.unlink_account(user.id, "github")
    assert not await store.unlink_account(user.id, "gitlab")
    assert [a.provider for a in await store.list_accounts(user.id)] == ["google"]
    # Once unlinked, the account may be linked again, by anyone.
    other = (await store.upsert_user(profile(2), T0)).user
    _, new = await store.link_account(other.id, "github", "gh-1", None, T0)
    assert new


async def test_a_verified_relink_verifies_and_an_unverified_one_leaves_it_verified(
    store: UserStore,
) -> None:
    user = (await store.upsert_user(profile(), T0)).user
    unverified, new = await store.link_account(user.id, "github", "583231", "old", T0)
    assert new
    assert not unverified.verified

    verified, new = await store.link_account(
        user.id, "github", "583231", "octocat", T0, verified=True
    )
    assert not new
    assert verified == LinkedAccount("github", "583231", "octocat", T0, verified=True)

    renamed, _ = await store.link_account(user.id, "github", "583231", "typed by hand", T0)
    assert renamed.verified
    assert await store.list_accounts(user.id) == [renamed]
    assert await store.get_user_with_accounts(1001) == (user, [renamed])


async def test_a_verified_link_takes_the_account_from_an_unverified_holder(
    store: UserStore,
) -> None:
    squatter = (await store.upsert_user(profile(1), T0)).user
    owner = (await store.upsert_user(profile(2), T0)).user
    await store.link_account(squatter.id, "github", "583231", "claimed", T0)
    await store.link_account(squatter.id, "google", "g-1", None, T0)

    account, new = await store.link_account(
        owner.id, "github", "583231", "octocat", T0, verified=True
    )

    assert new
    assert account == LinkedAccount("github", "583231", "octocat", T0, verified=True)
    assert await store.list_accounts(owner.id) == [account]
    assert [a.provider for a in await store.list_accounts(squatter.id)] == ["google"]


async def test_a_verified_link_replaces_the_users_own_unverified_one(store: UserStore) -> None:
    user = (await store.upsert_user(profile(), T0)).user
    await store.link_account(user.id, "github", "typed-by-hand", None, T0)

    account, new = await store.link_account(
        user.id, "github", "583231", "octocat", T0, verified=True
    )

    assert new
    assert await store.list_accounts(user.id) == [account]


async def test_verified_links_conflict_as_before(store: UserStore) -> None:
    owner = (await store.upsert_user(profile(1), T0)).user
    other = (await store.upsert_user(profile(2), T0)).user
    await store.link_account(owner.id, "github", "583231", "octocat", T0, verified=True)

    with pytest.raises(AccountConflict) as taken:
        await store.link_account(other.id, "github", "583231", "thief", T0, verified=True)
    with pytest.raises(AccountConflict) as unverified_taken:
        await store.link_account(other.id, "github", "583231", "thief", T0)
    with pytest.raises(AccountConflict) as linked:
        await store.link_account(owner.id, "github", "9", "second", T0, verified=True)

    assert (taken.value.reason, unverified_taken.value.reason) == ("taken", "taken")
    assert linked.value.reason == "linked"
    assert await store.list_accounts(other.id) == []
    assert [
        (a.external_id, a.display_name, a.verified) for a in await store.list_accounts(owner.id)
    ] == [("583231", "octocat", True)]


def oauth_state(user_id: int, state_hash: str = "a" * 64, **changes: object) -> OAuthState:
    fields: dict[str, object] = {
        "state_hash": state_hash,
        "user_id": user_id,
        "provider": "github",
        "code_verifier": "v" * 64,
        "nonce": "n" * 32,
        "created_at": T0,
        "expires_at": T0 + timedelta(minutes=10),
    }
    fields.update(changes)
    return OAuthState(**fields)  # type: ignore[arg-type]


async def test_an_oauth_state_is_taken_once(store: UserStore) -> None:
    user = (await store.upsert_user(profile(), T0)).user
    saved = oauth_state(user.id, nonce=None)
    await store.save_oauth_state(saved)

    assert await store.take_oauth_state("b" * 64) is None
    assert await store.take_oauth_state(saved.state_hash) == saved
    assert await store.take_oauth_state(saved.state_hash) is None


async def test_concurrent_takes_of_one_state_give_it_to_one(store: UserStore) -> None:
    user = (await store.upsert_user(profile(), T0)).user
    await store.save_oauth_state(oauth_state(user.id))

    taken = await asyncio.gather(*(store.take_oauth_state("a" * 64) for _ in range(10)))

    assert sum(state is not None for state in taken) == 1


async def test_a_block_ends_the_users_pending_authorizations(store: UserStore) -> None:
    user = (await store.upsert_user(profile(), T0)).user
    other = (await store.upsert_user(profile(2), T0)).user
    await store.save_oauth_state(oauth_state(user.id, "1" * 64))
    await store.save_oauth_state(oauth_state(other.id, "2" * 64))

    blocked = await store.set_blocked(1001, True)

    assert blocked is not None
    assert blocked.is_blocked
    assert await store.take_oauth_state("1" * 64) is None
    assert await store.take_oauth_state("2" * 64) is not None


async def test_saving_a_state_removes_the_expired_ones(store: UserStore) -> None:
    user = (await store.upsert_user(profile(), T0)).user
    await store.save_oauth_state(oauth_state(user.id, "1" * 64))
    await store.save_oauth_state(oauth_state(user.id, "2" * 64, expires_at=T0 + timedelta(hours=1)))

    later = T0 + timedelta(minutes=10)
    await store.save_oauth_state(
        oauth_state(user.id, "3" * 64, created_at=later, expires_at=later + timedelta(minutes=10))
    )

    assert await store.take_oauth_state("1" * 64) is None
    assert await store.take_oauth_state("2" * 64) is not None
    assert await store.take_oauth_state("3" * 64) is not None


async def test_pages_run_newest_first_without_overlap(store: UserStore) -> None:
    for n in range(7):
        await store.upsert_user(profile(5000 + n), T0 + timedelta(minutes=n))

    first = await store.list_users(3, None)
    assert first.next_cursor is not None
    second = await store.list_users(3, first.next_cursor)
    assert second.next_cursor is not None
    third = await store.list_users(3, second.next_cursor)

    assert [len(page.users) for page in (first, second, third)] == [3, 3, 1]
    assert third.next_cursor is None
    telegram_ids = [u.telegram_id for page in (first, second, third) for u in page.users]
    assert telegram_ids == [5006, 5005, 5004, 5003, 5002, 5001, 5000]


async def test_a_full_last_page_has_no_cursor(store: UserStore) -> None:
    for n in range(6):
        await store.upsert_user(profile(5000 + n), T0)

    first = await store.list_users(3, None)
    assert first.next_cursor is not None
    second = await store.list_users(3, first.next_cursor)

    assert len(second.users) == 3
    assert second.next_cursor is None


async def test_an_empty_store_has_one_empty_page(store: UserStore) -> None:
    page = await store.list_users(100, None)

    assert page.users == []
    assert page.next_cursor is None


@pytest.mark.parametrize("cursor", ["9423869094043641", "9" * 16])
async def test_a_cursor_past_every_id_starts_at_the_newest(store: UserStore, cursor: str) -> None:
    for n in range(2):
        await store.upsert_user(profile(5000 + n), T0 + timedelta(minutes=n))

    page = await store.list_users(10, cursor)

    assert [u.telegram_id for u in page.users] == [5001, 5000]


@pytest.mark.parametrize("cursor", ["", "garbage", "zzzz!!!!", "-1", "0", "1.5", "dToxMg"])
async def test_a_foreign_cursor_is_invalid(store: UserStore, cursor: str) -> None:
    await store.upsert_user(profile(), T0)

    with pytest.raises(InvalidCursor):
        await store.list_users(10, cursor)


async def test_set_blocked(store: UserStore) -> None:
    await store.upsert_user(profile(), T0)

    blocked = await store.set_blocked(1001, True)
    assert blocked is not None
    assert blocked.is_blocked
    assert await store.get_user(1001) == blocked

    unblocked = await store.set_blocked(1001, False)
    assert unblocked is not None
    assert not unblocked.is_blocked
    assert unblocked.last_seen_at == T0


async def test_set_blocked_on_an_unknown_user_is_none(store: UserStore) -> None:
    assert await store.set_blocked(404, True) is None
    assert await store.get_user(404) is None


async def test_set_locale_saves_and_forgets_the_preference(store: UserStore) -> None:
    user = (await store.upsert_user(profile(), T0)).user
    assert user.locale is None

    saved = await store.set_locale(user.id, "pt_BR")
    assert saved is not None
    assert saved.locale == "pt_BR"
    assert await store.get_user(1001) == saved
    # A later sign-in refreshes the profile but keeps the choice.
    again = await store.upsert_user(profile(language_code="de"), T0 + timedelta(hours=1))
    assert again.user.locale == "pt_BR"

    forgotten = await store.set_locale(user.id, None)
    assert forgotten is not None
    assert forgotten.locale is None


async def test_set_locale_on_an_unknown_user_is_none(store: UserStore) -> None:
    assert await store.set_locale(404, "ru") is None


async def test_a_bot_update_is_recorded_once(store: UserStore) -> None:
    assert await store.record_update(5, T0)
    assert not await store.record_update(5, T0 + timedelta(seconds=1))


async def test_update_ids_older_than_a_week_are_pruned_at_every_hundredth(
    store: UserStore,
) -> None:
    later = T0 + UPDATES_KEPT + timedelta(minutes=1)
    assert await store.record_update(101, T0)
    assert await store.record_update(150, T0 + timedelta(days=1))
    # Not a multiple of PRUNE_EVERY: nothing is pruned, 101 is still known.
    assert await store.record_update(199, later)
    assert not await store.record_update(101, later)
    assert await store.record_update(PRUNE_EVERY * 2, later)
    # Received more than UPDATES_KEPT before: forgotten, so recorded anew; the younger one kept.
    assert await store.record_update(101, later)
    assert not await store.record_update(150, later)
