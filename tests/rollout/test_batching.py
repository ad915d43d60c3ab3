"""MicroBatcher: requests that arrive together run as one batch; pause/resume fence weight updates."""

import asyncio

import pytest

from specs_verl.rollout.batching import MicroBatcher


class Recorder:
    def __init__(self, delay=0.0, fail_on=None):
        self.batches, self.delay, self.fail_on = [], delay, fail_on

    async def __call__(self, items):
        self.batches.append(list(items))
        await asyncio.sleep(self.delay)
        if self.fail_on in items:
            raise RuntimeError(f"bad item {self.fail_on}")
        return [item * 10 for item in items]


def run(coro):
    return asyncio.run(coro)


def test_requests_that_arrive_together_share_one_batch_and_keep_their_order():
    async def main():
        rec = Recorder()
        batcher = MicroBatcher(rec, max_batch_size=64, wait_s=0.02)
        results = await asyncio.gather(*[batcher.submit(i) for i in range(8)])
        return rec, batcher, results

    rec, batcher, results = run(main())
    assert results == [i * 10 for i in range(8)]
    assert rec.batches == [list(range(8))]
    assert dict(batcher.batch_sizes) == {8: 1}


def test_stragglers_within_the_wait_window_join_the_batch():
    async def main():
        rec = Recorder()
        batcher = MicroBatcher(rec, max_batch_size=64, wait_s=0.05)

        async def late(i, delay):
            await asyncio.sleep(delay)
            return await batcher.submit(i)

        await asyncio.gather(late(0, 0), late(1, 0.02), late(2, 0.04))
        return rec

    assert run(main()).batches == [[0, 1, 2]]


def test_max_batch_size_splits_and_arrivals_during_a_batch_form_the_next():
    async def main():
        rec = Recorder(delay=0.05)
        batcher = MicroBatcher(rec, max_batch_size=3, wait_s=0.01)
        first = [asyncio.create_task(batcher.submit(i)) for i in range(5)]
        await asyncio.sleep(0.03)  # the first batch (0, 1, 2) is running now
        later = [asyncio.create_task(batcher.submit(i)) for i in range(5, 7)]
        await asyncio.gather(*first, *later)
        return rec

    batches = run(main()).batches
    assert batches[0] == [0, 1, 2]
    assert batches[1] == [3, 4, 5]  # 3, 4 waited behind the first batch; 5 arrived while it ran
    assert batches[2] == [6]


def test_a_failing_batch_fails_each_of_its_requests_and_the_next_batch_still_runs():
    async def main():
        rec = Recorder(fail_on=2)
        batcher = MicroBatcher(rec, max_batch_size=64, wait_s=0.01)
        outcome = await asyncio.gather(*[batcher.submit(i) for i in range(4)], return_exceptions=True)
        again = await batcher.submit(7)
        return outcome, again

    outcome, again = run(main())
    assert all(isinstance(o, RuntimeError) and "bad item 2" in str(o) for o in outcome)
    assert again == 70


def test_pause_waits_for_the_batch_in_flight_and_holds_new_ones_until_resume():
    async def main():
        events = []
        rec = Recorder(delay=0.05)
        batcher = MicroBatcher(rec, max_batch_size=64, wait_s=0.0)
        running = asyncio.create_task(batcher.submit(1))
        await asyncio.sleep(0.01)
        await batcher.pause()  # returns only after batch [1] finished
        events.append(("paused", running.done()))
        held = asyncio.create_task(batcher.submit(2))
        await asyncio.sleep(0.05)
        events.append(("held", held.done()))
        batcher.resume()
        events.append(("result", await held))
        return events

    assert run(main()) == [("paused", True), ("held", False), ("result", 20)]


def test_a_cancelled_request_is_dropped_from_its_batch():
    async def main():
        rec = Recorder()
        batcher = MicroBatcher(rec, max_batch_size=64, wait_s=0.02)
        keep = asyncio.create_task(batcher.submit(1))
        drop = asyncio.create_task(batcher.submit(2))
        await asyncio.sleep(0)
        drop.cancel()
        return rec, await keep

    rec, result = run(main())
    assert result == 10 and rec.batches == [[1]]


def test_max_batch_size_must_be_positive():
    with pytest.raises(ValueError, match="max_batch_size=0"):
        MicroBatcher(Recorder(), max_batch_size=0)
