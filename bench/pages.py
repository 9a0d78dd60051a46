"""Server render time of every page with the demo data (the UI issue: under a second each).

Loads the demo city (300 tickets) into a fresh SQLite database, signs in as each role and
renders each page `--repeat` times in-process; prints one JSON object as the last line with
p50 and max milliseconds per page. Browser time (network, layout) is not included.

    python -m bench.pages [--repeat 20]
"""

import argparse
import dataclasses
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

PAGES: dict[str, list[str]] = {
    "operator1": ["/console", "/tickets", "/tickets?light=red", "/tickets/{ticket}"],
    "liaison-zjj": ["/unit", "/tickets"],
    "lead1": ["/tickets", "/supervise"],
    "supervisor1": ["/supervise"],
    "leader1": ["/dashboard"],
    "admin": ["/admin/", "/admin/units", "/admin/settings"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    import logging

    from hotline.app import create_app
    from hotline.bootstrap import bootstrap
    from hotline.demo import DEMO_PASSWORD
    from hotline.demo import load_demo
    from infra.migrate import upgrade
    from infra.settings import DatabaseSettings
    from infra.settings import WebSettings
    from infra.settings import load_settings

    logging.disable(logging.INFO)
    folder = tempfile.mkdtemp(prefix="hotline-bench-pages-")
    url = f"sqlite:///{folder}/demo.db"
    upgrade(url)
    settings = dataclasses.replace(
        load_settings(ROOT / "config.yaml", environ={}),
        database=DatabaseSettings(url=url),
        web=WebSettings(secret_key="bench", live_updates_via_redis=False),
        instance_path=folder,
    )
    container = bootstrap(settings)
    load_demo(container)
    app = create_app(container=container)
    ticket = 1
    results: dict[str, Any] = {}
    for user, paths in PAGES.items():
        client = app.test_client()
        resp = client.post("/api/auth/login", json={"username": user, "password": DEMO_PASSWORD})
        assert resp.status_code == 200, resp.get_json()
        for raw in paths:
            path = raw.format(ticket=ticket)
            times: list[float] = []
            status = None
            for _ in range(args.repeat):
                start = time.perf_counter()
                resp = client.get(path)
                times.append((time.perf_counter() - start) * 1000)
                status = resp.status_code
            if status == 404:
                continue  # a page of an area not built yet
            results[f"{user} {path}"] = {
                "status": status,
                "p50_ms": round(statistics.median(times), 1),
                "max_ms": round(max(times), 1),
            }
    container.close()
    slowest = max((v["max_ms"] for v in results.values()), default=0.0)
    print(
        json.dumps(
            {
                "benchmark": "page render on demo data (300 tickets, SQLite)",
                "repeat": args.repeat,
                "pages": results,
                "slowest_max_ms": slowest,
                "target_ms": 1000,
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
