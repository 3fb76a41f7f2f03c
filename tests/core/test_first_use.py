"""`FirstUse`: an owner's first-use setup runs once however many calls arrive together; a
call whose setup fails hands the turn on; after the setup, calls run side by side. The same
lock serves threads and coroutines (`alocked`)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from jina_v3._flow import FirstUse, alocked


class Owner:
    """Calls that set up on first use (the first one's setup fails), as the indexes do."""

    def __init__(self) -> None:
        self.first_use = FirstUse()
        self.setups = 0
        self.running = 0
        self.most_at_once = 0

    def _setup(self) -> None:
        self.setups += 1
        if self.setups == 1:
            raise RuntimeError("the first setup fails")
        self.first_use.finish()

    async def acall(self) -> None:
        async with self.first_use.aturn():
            if not self.first_use.done:
                await asyncio.sleep(0.01)
                self._setup()
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            await asyncio.sleep(0.02)  # the rest of the call, after the setup
            self.running -= 1

    def call(self) -> None:
        with self.first_use.turn():
            if not self.first_use.done:
                time.sleep(0.01)
                self._setup()
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            time.sleep(0.02)
            self.running -= 1


def test_async_calls_set_up_once_and_then_run_together() -> None:
    owner = Owner()

    async def main() -> list[object]:
        return await asyncio.gather(*(owner.acall() for _ in range(8)), return_exceptions=True)

    results = asyncio.run(main())
    assert [type(r) for r in results].count(RuntimeError) == 1  # only the failed setup
    assert owner.setups == 2 and owner.first_use.done
    assert owner.most_at_once > 1  # after the setup nothing waits
    assert not owner.first_use._lock.locked()  # no turn left held


def test_threads_set_up_once_and_then_run_together() -> None:
    owner = Owner()
    errors: list[BaseException] = []

    def call() -> None:
        try:
            owner.call()
        except RuntimeError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(errors) == 1 and owner.setups == 2
    assert owner.most_at_once > 1
    assert not owner.first_use._lock.locked()


def test_a_cancelled_waiter_leaves_the_lock_as_it_was() -> None:
    lock = threading.Lock()

    async def main() -> None:
        lock.acquire()  # held elsewhere (a sync caller)
        waiter = asyncio.ensure_future(alocked(lock).__aenter__())
        await asyncio.sleep(0.02)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        lock.release()
        async with alocked(lock):  # free again, and taken at once
            assert lock.locked()
        assert not lock.locked()

    asyncio.run(main())
