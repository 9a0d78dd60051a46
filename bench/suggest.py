"""派单建议 latency: the whole suggestion (3 models, explanations, locality, duplicates) per draft.

Loads the demo city into a fresh SQLite database, trains its routing model, then asks
`POST /api/routing/suggest` (Flask test client, no network) for drafts made from the demo
templates, one at a time, and prints one JSON object: p50/p99 of the router alone and of
the whole request.

    python -m bench.suggest [--drafts 500]
"""

import argparse
import dataclasses
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from dispatch.routing.learning import retrain
from dispatch.routing.router import Draft
from hotline import demo_content as content
from hotline.app import create_app
from hotline.bootstrap import bootstrap
from hotline.demo import load_demo
from infra.auth import issue_token
from infra.migrate import upgrade
from infra.models import User
from infra.settings import DatabaseSettings
from infra.settings import WebSettings
from infra.settings import load_settings


def _pct(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))], 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drafts", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        settings = dataclasses.replace(
            load_settings(None, environ={}),
            database=DatabaseSettings(url=url),
            web=WebSettings(secret_key="bench", live_updates_via_redis=False),
            instance_path=tmp,
        )
        container = bootstrap(settings)
        load_demo(container)
        retrain(container.uow(), trigger="demo")
        with container.uow() as uow:
            operator = uow.session.query(User).filter_by(username="operator1").one()
            token = issue_token(uow.session, operator, "bench")
            uow.commit()
        app = create_app(container=container)
        client = app.test_client()
        rng = random.Random(1)
        drafts = []
        for _ in range(args.drafts):
            tpl = rng.choice(content.TEMPLATES)
            street = rng.choice(list(content.STREET_ADDRESSES))
            address = rng.choice(content.STREET_ADDRESSES[street])
            text = tpl.content.format(address=address, name="张先生")
            drafts.append(Draft(tpl.title, text, address, f"139{rng.randint(0, 99_999_999):08d}"))
        router = container.assistant.router
        router.suggest(drafts[0])  # load the model and jieba before timing
        alone, whole = [], []
        for i, d in enumerate(drafts):
            # Each timing on text not seen before: no cached cut or features help it.
            t0 = time.perf_counter()
            router.suggest(dataclasses.replace(d, content=f"{d.content}（第{i}次）"))
            alone.append((time.perf_counter() - t0) * 1000)
            d = dataclasses.replace(d, content=f"{d.content}（第{i}遍）")
            body = {
                "title": d.title,
                "content": d.content,
                "address": d.address,
                "caller_phone": d.caller_phone,
            }
            t0 = time.perf_counter()
            resp = client.post(
                "/api/routing/suggest", json=body, headers={"Authorization": f"Bearer {token}"}
            )
            whole.append((time.perf_counter() - t0) * 1000)
            assert resp.status_code == 200, resp.get_json()
            resp.close()
        container.close()
    print(
        json.dumps(
            {
                "drafts": len(drafts),
                "router_p50_ms": _pct(alone, 50),
                "router_p99_ms": _pct(alone, 99),
                "request_p50_ms": _pct(whole, 50),
                "request_p99_ms": _pct(whole, 99),
                "request_mean_ms": round(statistics.fmean(whole), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
