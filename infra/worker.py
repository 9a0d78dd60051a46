"""rq workers that die: the jobs a killed worker held go back to work at once."""

import logging
from typing import Any

import redis
from rq import Queue
from rq.job import Job

log = logging.getLogger(__name__)


def rescue_abandoned(conn: "redis.Redis", queues: list[Queue]) -> list[str]:
    """Hand back at once the jobs a dead worker of this machine held (SIGKILL, OOM).

    rq finds an abandoned job only when its last heartbeat's lease (60 s and more) runs out,
    then at its next maintenance: a minute and a half in all. A worker started again (by
    `hotline demo` or systemd) looks for workers of this host whose process is gone and moves
    their jobs on now, through rq's own cleanup (a retry if the job has retries left, else
    failed). Returns the ids of the jobs handed back.
    """
    import socket

    from rq import Worker
    from rq import worker_registration
    from rq.registry import StartedJobRegistry
    from rq.scheduler import RQScheduler

    from infra.lifeline import running

    host = socket.gethostname()

    def dead_here(hostname: Any, pid: Any) -> bool:
        return _str(hostname) == host and bool(pid) and not running(int(pid))

    # A dead scheduler's lock would hold the retries below back until it expires (60 s+).
    for queue in queues:
        lock = RQScheduler.get_locking_key(queue.name)
        holder: Any = conn.get(lock)
        if holder is not None:
            owner = conn.hmget(f"rq:scheduler:{_str(holder)}", "hostname", "pid")
            if dead_here(*owner):
                conn.delete(lock)
    gone = [w for w in Worker.all(connection=conn) if dead_here(w.hostname, w.pid)]
    if not gone:
        return []
    dead = {w.name for w in gone}
    rescued: list[str] = []
    for queue in queues:
        registry = StartedJobRegistry(queue.name, connection=conn)
        members: Any = conn.zrange(registry.key, 0, -1)
        for member in members:
            entry = _str(member)
            job = Job.fetch_many([entry.split(":", 1)[0]], connection=conn)[0]
            if job is not None and job.worker_name in dead:
                conn.zadd(registry.key, {entry: 0})  # expired: the cleanup below takes it
                rescued.append(job.id)
        registry.cleanup()
    for worker in gone:  # nor does /healthz count them alive any longer
        worker_registration.unregister(worker)
        conn.delete(worker.key)
    if rescued:
        log.warning("jobs of dead workers %s handed back: %s", sorted(dead), rescued)
    return rescued


def _str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def worker_class() -> type:
    """rq's Worker, registering itself again when Redis has lost its registration.

    Redis keeps nothing on disk here: restarted, it has forgotten every worker. A worker that
    rode out the outage inside rq's own retries kept working but was no longer listed, so
    /healthz said 「后台任务 down」 while jobs ran. At each heartbeat it now checks that it is
    listed and registers its birth again if not.
    """
    from rq import Worker

    class HotlineWorker(Worker):
        def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
            if pipeline is None and not self.connection.sismember(
                self.redis_workers_keys, self.key
            ):
                log.warning("worker %s: Redis lost its registration; registering again", self.name)
                self.connection.delete(self.key)
                self.register_birth()  # type: ignore[no-untyped-call]
            super().heartbeat(timeout, pipeline)

    return HotlineWorker
