"""A burst of concurrent submissions to a real ``kirin serve``, on SQLite and PostgreSQL: created
in batches (server/submission_batch.py), each answered as if it had been created alone."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import Kirin
from tests.pg_databases import PostgresDatabases

T2V = {"model": "kirin_v1_t2v", "prompt": "a paid-for sunset"}  # reserves 0.14 USD


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_burst_of_submissions_is_admitted_exactly(
    database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    env = {}
    if database == "postgresql":
        pg: PostgresDatabases = request.getfixturevalue("pg_databases")
        env["KIRIN_DATABASE_URL"] = pg.fresh()
    kirin = Kirin(tmp_path / "data", env=env)
    try:
        kirin.start_server(workers=0)
        kirin.cli("accounts", "create", "payer", "--balance", "1.00")
        payer, free = kirin.create_key(account="payer"), kirin.create_key(account="free")

        async def burst() -> tuple[list[httpx.Response], list[httpx.Response]]:
            limits = httpx.Limits(max_connections=64)
            async with httpx.AsyncClient(base_url=kirin.base_url, limits=limits) as client:

                def post(key: str, body: dict[str, str]) -> asyncio.Future[httpx.Response]:
                    headers = {"Authorization": f"Bearer {key}"}
                    return asyncio.ensure_future(
                        client.post("/model/v1/generation", json=body, headers=headers)
                    )

                paid = [post(payer, T2V) for _ in range(24)]
                same = [post(free, {**T2V, "external_task_id": "once"}) for _ in range(16)]
                return list(await asyncio.gather(*paid)), list(await asyncio.gather(*same))

        paid, same = asyncio.run(burst())
        assert sorted(a.status_code for a in paid) == [200] * 7 + [402] * 17  # 7 x 0.14 of 1.00
        assert sorted(a.status_code for a in same) == [200] + [409] * 15
        conflict = next(a for a in same if a.status_code == 409).json()["error"]
        assert conflict["param"] == "external_task_id"
        account = kirin.store().get_account("payer")
        assert account is not None
        assert Decimal(account.reserved) == Decimal("0.98")
        # What was answered created is what is stored.
        for key, answers in ((payer, paid), (free, same)):
            created = {a.json()["id"] for a in answers if a.status_code == 200}
            with kirin.client(key) as client:
                listed = client.get("/model/v1/generation/tasks", params={"limit": 100}).json()
            assert {t["id"] for t in listed["data"]} == created
    finally:
        kirin.stop()
