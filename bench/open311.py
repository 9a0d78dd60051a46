"""Open311 latency: POST requests.json and GET requests.json through the Flask test client.

Migrates a fresh SQLite database (or uses HOTLINE_BENCH_DATABASE_URL, which must be an
empty, migrated database), seeds a small catalogue and one API key with a rate high enough
never to limit, files N requests, then lists them N times (each list returns every request
filed so far, up to open311.max_requests). Rate limits count in Redis at
HOTLINE_BENCH_REDIS_URL (default db 13; the bench's keys expire within two minutes; when
Redis is down requests pass uncounted). Prints one JSON object as the last line.

    python -m bench.open311 [-n 200]
"""

import argparse
import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

MATTERS = (
    ("城乡建设/物业管理/电梯", ["电梯故障", "电梯停运"]),
    ("供电服务/停电/故障停电", ["停电", "断电"]),
    ("城市管理/市政设施/路灯", ["路灯不亮", "井盖"]),
)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _stats(ms: list[float]) -> dict[str, float]:
    return {"p50_ms": round(_percentile(ms, 0.5), 2), "p95_ms": round(_percentile(ms, 0.95), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="requests of each kind")
    args = parser.parse_args()

    import sqlalchemy as sa

    from dispatch.open311 import apikeys
    from dispatch.routing.models import Matter
    from hotline.app import create_app
    from hotline.bootstrap import bootstrap
    from infra.migrate import upgrade
    from infra.models import Unit
    from infra.settings import DatabaseSettings
    from infra.settings import RedisSettings
    from infra.settings import WebSettings
    from infra.settings import load_settings
    from kernel.units import UnitKind

    tmp = tempfile.mkdtemp(prefix="open311-bench-")
    url = os.environ.get("HOTLINE_BENCH_DATABASE_URL") or f"sqlite:///{tmp}/bench.db"
    if "HOTLINE_BENCH_DATABASE_URL" not in os.environ:
        upgrade(url)
    base = load_settings(None, environ={})
    settings = dataclasses.replace(
        base,
        database=DatabaseSettings(url=url),
        redis=RedisSettings(
            url=os.environ.get("HOTLINE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
        ),
        web=WebSettings(secret_key="bench", live_updates_via_redis=False),
        instance_path=tmp,
    )
    container = bootstrap(settings)
    with container.uow() as uow:
        unit = Unit(
            code="zjj", name="住房和城乡建设局", kind=UnitKind.DEPARTMENT, keywords=["电梯"]
        )
        uow.session.add(unit)
        uow.session.flush()
        for path, words in MATTERS:
            uow.session.add(Matter(path=path, unit_id=unit.id, keywords=words))
        uow.commit()
        codes = [str(i) for i in uow.session.scalars(sa.select(Matter.id).order_by(Matter.id))]
    key = apikeys.create_key(container.uow(), None, "bench", "", apikeys.MAX_RATE, default_rate=60)
    client = create_app(container=container).test_client()

    posts: list[float] = []
    for i in range(args.n):
        form = {
            "api_key": key.key,
            "service_code": codes[i % len(codes)],
            "description": f"第{i}号楼电梯故障停运，物业没有处理",
            "lat": "30.27",
            "long": "120.15",
        }
        started = time.perf_counter()
        resp = client.post("/open311/v2/requests.json", data=form)
        posts.append((time.perf_counter() - started) * 1000)
        assert resp.status_code == 201, resp.data
    gets: list[float] = []
    for _ in range(args.n):
        started = time.perf_counter()
        resp = client.get("/open311/v2/requests.json", query_string={"api_key": key.key})
        gets.append((time.perf_counter() - started) * 1000)
        assert resp.status_code == 200, resp.data
    listed = len(resp.get_json())
    print(
        json.dumps(
            {
                "database": url.split(":", 1)[0],
                "n": args.n,
                "post_requests": _stats(posts),
                "get_requests": _stats(gets) | {"items_per_answer": listed},
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
