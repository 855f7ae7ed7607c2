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
)
