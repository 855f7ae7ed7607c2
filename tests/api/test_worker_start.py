"""What a worker does once it has started, in this process through ASGI."""

from __future__ import annotations

import gc
from pathlib import Path

from asgi_app import app_client
from service_process import server_env


async def test_a_started_worker_keeps_its_start_up_objects_out_of_full_collections(
    tmp_path: Path,
) -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    async with app_client(server_env(f"sqlite:///{tmp_path}/t.db")) as client:
        assert (await client.get("/health")).status_code == 200
        # The modules, the app and its routes: a full collection under load skips them.
        assert gc.get_freeze_count() > 10_000
    assert gc.get_freeze_count() == 0
