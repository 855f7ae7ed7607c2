"""What the bot costs in memory. aiogram's Bot API types take about 130 MB in each process that
imports them, so only a worker whose bot Telegram can reach (a token and the webhook's secret)
imports them; the main process never does."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from bot.conftest import WEBHOOK_SECRET
from bot_api_standin import BotApiStandIn, start_update
from service_process import Server, init_data, new_telegram_id, server_env, start_server
from waiting import wait_until

# A process of the service without aiogram peaks near 100 MB; with it, above 200 MB.
WITHOUT_THE_BOT_MB = 150


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmHWM:\s+(\d+) kB$", status, re.MULTILINE)
    assert match is not None, status
    return int(match.group(1)) / 1024


def serving(env: dict[str, str], log_path: Path) -> Server:
    server = start_server(env, log_path, timeout=60)
    server.wait_until_workers_ready(int(env["WORKERS"]))
    return server


def test_without_the_webhook_no_process_of_the_service_imports_the_bot(tmp_path: Path) -> None:
    env = server_env(f"sqlite:///{tmp_path}/t.db", WORKERS="2")
    server = serving(env, tmp_path / "server.log")
    try:
        for _ in range(4):
            response = httpx.post(
                server.url + "/auth/telegram",
                json={"init_data": init_data(new_telegram_id())},
                timeout=10,
            )
            assert response.status_code == 200
        # Without the secret Telegram cannot call the webhook: it is refused, nothing loads.
        assert httpx.post(server.url + "/telegram/webhook", json={}, timeout=10).status_code == 401
        peaks = {pid: peak_rss_mb(pid) for pid in server.process_group()}
    finally:
        server.stop()
    assert len(peaks) >= 3, peaks  # the main process and two workers
    assert all(peak < WITHOUT_THE_BOT_MB for peak in peaks.values()), peaks


def test_with_the_webhook_the_workers_answer_updates_and_the_main_process_stays_small(
    standin: BotApiStandIn, tmp_path: Path
) -> None:
    env = server_env(
        f"sqlite:///{tmp_path}/t.db",
        TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET,
        TELEGRAM_API_URL=standin.url,
    )
    server = serving(env, tmp_path / "server.log")
    try:
        telegram_id = new_telegram_id()
        answered = httpx.post(
            server.url + "/telegram/webhook",
            json=start_update(telegram_id),
            headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET},
            timeout=10,
        )
        assert answered.status_code == 200, answered.text
        assert wait_until(lambda: bool(standin.calls_of("sendMessage")), timeout=10)
        main = peak_rss_mb(server.process.pid)
    finally:
        server.stop()
    assert main < WITHOUT_THE_BOT_MB
