"""Jobs queued before the jobs moved into their packages still run after the upgrade.

rq keeps a job's function as a dotted name in Redis (`hotline.jobs.reindex_kb`); a job
waiting in a queue, or a failed one retried, is looked up by that name after the new code
is deployed.
"""

from typing import Any

import pytest
from rq.utils import import_attribute

import hotline.jobs
from hotline.bootstrap import Container
from hotline.jobs import LEGACY_JOBS


def test_every_old_job_name_is_the_packages_job_now() -> None:
    for name, job in LEGACY_JOBS.items():
        found = import_attribute(f"hotline.jobs.{name}")  # as rq's worker finds it
        assert found is job and job.__name__ == name
        assert job.__module__ in ("dispatch.jobs", "callcenter.jobs", "kb.jobs", "reports.jobs")
    with pytest.raises(AttributeError):
        hotline.jobs.no_such_job  # noqa: B018 - the lookup is what is tested


@pytest.mark.redis
def test_a_job_queued_under_its_old_name_runs_on_a_real_worker(
    container: Container, real_redis: Any, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rq import Queue
    from rq import SimpleWorker

    monkeypatch.setenv("HOTLINE_DATABASE__URL", db_url)  # the job builds its own services
    queue = Queue("kb", connection=real_redis)
    job = queue.enqueue("hotline.jobs.reindex_kb", True)  # as the old code queued it
    assert job.func_name == "hotline.jobs.reindex_kb"
    SimpleWorker([queue], connection=real_redis).work(burst=True)
    assert job.get_status(refresh=True).value == "finished", job.latest_result()
    assert isinstance(job.return_value(), int)
