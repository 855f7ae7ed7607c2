"""Messages of the mini-app's own screens, served to it by GET /i18n/{locale}."""

from __future__ import annotations

from learnbot.i18n.markers import N_

MINIAPP_MESSAGES = (
    N_("Lessons"),
    N_("Start the lesson"),
    N_("Continue"),
    N_("Your progress"),
    N_("Settings"),
    N_("Language"),
    N_("Linked accounts"),
    N_("Link an account"),
    N_("Unlink"),
    N_("Sign in with Telegram"),
    N_("Something went wrong. Please try again."),
    N_("Lesson %(number)d of %(total)d"),
    # The starter Mini App at /app/ (service/learnbot/miniapp/), which also shows the accounts
    # summary ("You have %(count)d linked account.") and the problem documents' details.
    N_("Try again"),
    N_("Close the Mini App and open it again from Telegram."),
    N_("Telegram id"),
    N_("Administrator"),
    N_("Manage users"),
    N_("Link %(provider)s"),
    N_("Unlink your %(provider)s account?"),
    N_("Cancel"),
    N_("Back"),
    N_("Users"),
    N_("Pages"),
    N_("Previous page"),
    N_("Next page"),
    N_("Active"),
    N_("Blocked"),
    N_("Block"),
    N_("Unblock"),
    N_("Block %(name)s?"),
    N_("Unblock %(name)s?"),
    N_("Open this page from Telegram: it signs you in with the data Telegram gives a Mini App."),
)
