"""The Telegram bot: its Bot API client, the updates the webhook feeds it, and its set-up."""
