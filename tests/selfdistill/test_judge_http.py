"""The consistency judge against a real local HTTP server: retries, timeouts, malformed bodies, cache hits."""

import socket
import time

import pytest

from specs_verl.selfdistill.judge import (CONSISTENT, ERROR, INCONSISTENT, UNPARSEABLE, JudgeItem, JudgeUnavailable,
                                          VerdictCache, load_judge, parse_verdict, render)
from specs_verl.selfdistill.judge.verdict import load_template

from .chat_server import ChatServer

FAST = dict(backoff=0.01, max_backoff=0.05)


def _items(*markers):
    return [JudgeItem(f"<image>How many? {m}", f"<think>I count. {m}</think><answer>\\boxed{{3}}</answer>", "3")
            for m in markers]


def _judge(server, tmp_path, **opts):
    opts = {"concurrency": 4, "timeout": 5.0, "retries": 3, **FAST, **opts}
    return load_judge("openai", url=server.url, model="judge-model", cache_path=tmp_path / "cache.jsonl", **opts)


def test_verdicts_and_request_shape(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_JUDGE_KEY", "sk-test")
    with ChatServer() as server:
        judge = _judge(server, tmp_path, api_key_env="MY_JUDGE_KEY")
        verdicts = judge.judge(_items("JUDGE_YES", "JUDGE_NO", "JUDGE_GARBAGE"))
        judge.close()
    assert [v.label for v in verdicts] == [CONSISTENT, INCONSISTENT, UNPARSEABLE]
    assert judge.stats["unparseable"] == 1 and judge.stats["requests"] == 3
    req = server.requests[0]
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer sk-test"
    assert req["body"]["model"] == "judge-model" and req["body"]["temperature"] == 0.0
    prompt = req["body"]["messages"][0]["content"]
    assert "[image]How many?" in prompt and "<image>" not in prompt and "Final answer given by the model: 3" in prompt


def test_retries_on_500_and_malformed_bodies(tmp_path):
    with ChatServer() as server:
        judge = _judge(server, tmp_path)
        verdicts = judge.judge(_items("FAIL500x2 JUDGE_YES", "MALFORMEDx2 JUDGE_NO", "FAIL500x9 JUDGE_YES"))
        judge.close()
    assert [v.label for v in verdicts] == [CONSISTENT, INCONSISTENT, ERROR]
    assert "HTTP 500 (after 4 attempts)" in verdicts[2].raw
    assert sorted(server.attempts.values()) == [3, 3, 4]  # 2 faults + 1 success, twice; 4 attempts then give up
    assert judge.transport.stats == {"requests": 3, "attempts": 10, "retries": 7, "failed": 1, "client_errors": 0,
                                     "truncated": 0}


def test_timeout_then_retry(tmp_path):
    with ChatServer(slow_seconds=1.5) as server:
        judge = _judge(server, tmp_path, timeout=0.3)
        t0 = time.perf_counter()
        verdicts = judge.judge(_items("SLOWx1 JUDGE_YES"))
        elapsed = time.perf_counter() - t0
        judge.close()
    assert verdicts[0].label == CONSISTENT and judge.transport.stats["retries"] == 1
    assert elapsed < 1.4  # the slow attempt was abandoned at the timeout, not waited for


def test_cache_hits_never_pay_twice(tmp_path):
    items = _items("JUDGE_YES", "JUDGE_NO", "JUDGE_GARBAGE", "FAIL500x9")
    with ChatServer() as server:
        first = _judge(server, tmp_path, retries=0)
        a = first.judge(items)
        first.close()
        sent = server.total
        second = _judge(server, tmp_path, retries=0)
        b = second.judge(items)
        second.close()
    assert [v.label for v in a] == [CONSISTENT, INCONSISTENT, UNPARSEABLE, ERROR]
    assert [v.label for v in b] == [v.label for v in a]
    assert [v.cached for v in b] == [True, True, True, False]  # a failed request is not cached: retried
    assert server.total == sent + 1 and second.stats["cache_hits"] == 3
    assert len(VerdictCache(tmp_path / "cache.jsonl")) == 3


def test_cache_survives_a_torn_last_line(tmp_path):
    path = tmp_path / "cache.jsonl"
    cache = VerdictCache(path)
    cache.put("k1", CONSISTENT, "Verdict: yes")
    cache.close()
    with open(path, "a") as f:
        f.write('{"key": "k2", "lab')  # a crash mid-write
    cache = VerdictCache(path)
    assert cache.torn_lines == 1 and cache.get("k1")["label"] == CONSISTENT
    cache.put("k3", INCONSISTENT, "Verdict: no")
    cache.close()
    again = VerdictCache(path)
    assert again.get("k3")["label"] == INCONSISTENT and len(again) == 2


def test_unreachable_endpoint_stops_the_run(tmp_path):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    url = f"http://127.0.0.1:{port}/v1"
    judge = load_judge("openai", url=url, model="m", retries=1, concurrency=2, max_consecutive_failures=3, **FAST)
    with pytest.raises(JudgeUnavailable, match=rf"cannot reach the judge endpoint {url}.*\(3 requests in a row\)"):
        judge.judge(_items(*[f"q{i}" for i in range(50)]))
    # a batch smaller than the breaker's threshold: every request failing to connect is enough
    judge = load_judge("openai", url=url, model="m", retries=0, **FAST)
    with pytest.raises(JudgeUnavailable, match=r"cannot reach.*\(2 requests in a row\).*(refused|Errno)"):
        judge.judge(_items("a", "b"))


def test_wrong_model_or_key_stops_at_once(tmp_path):
    with ChatServer(status=404) as server:
        judge = _judge(server, tmp_path)
        with pytest.raises(JudgeUnavailable, match="HTTP 404 for model 'judge-model'"):
            judge.judge(_items(*[f"q{i}" for i in range(20)]))
        judge.close()
    assert server.total < 20


def test_parse_verdict_variants():
    assert parse_verdict("reasoning...\nVerdict: yes") == CONSISTENT
    assert parse_verdict("**Verdict:** No") == INCONSISTENT
    assert parse_verdict("Verdict: no ... wait. Verdict: yes") == CONSISTENT  # the last verdict counts
    assert parse_verdict("Yes.") == CONSISTENT and parse_verdict("not consistent") == INCONSISTENT
    assert parse_verdict("maybe") == UNPARSEABLE and parse_verdict("") == UNPARSEABLE


def test_custom_template_file(tmp_path):
    path = tmp_path / "judge.txt"
    path.write_text("Q={question} R={response} A={answer} \\boxed{x}")
    text = render(load_template(str(path)), JudgeItem("q", "r", "a"))
    assert text == "Q=q R=r A=a \\boxed{x}"
    bad = tmp_path / "bad.txt"
    bad.write_text("no slot here")
    with pytest.raises(ValueError, match="no {response} slot"):
        load_template(str(bad))


def test_truncated_replies_are_asked_again_with_more_tokens_and_never_cached(tmp_path):
    with ChatServer() as server:
        judge = _judge(server, tmp_path, retries=0, max_tokens=32)
        once, always = judge.judge(_items("TRUNCATEDx1 JUDGE_NO", "TRUNCATEDx9 JUDGE_YES"))
        judge.close()
    assert once.label == INCONSISTENT  # the second attempt, at 64 tokens, finished
    assert always.label == UNPARSEABLE and always.raw.startswith("Let me compare")
    sent = [(r["body"]["messages"][0]["content"].split("I count. ")[1][:13], r["body"]["max_tokens"])
            for r in server.requests]
    assert sorted(sent) == sorted([("TRUNCATEDx1 J", 32), ("TRUNCATEDx1 J", 64),
                                   ("TRUNCATEDx9 J", 32), ("TRUNCATEDx9 J", 64), ("TRUNCATEDx9 J", 128)])
    assert judge.transport.stats["truncated"] == 4 and judge.transport.stats["failed"] == 0
    assert len(VerdictCache(tmp_path / "cache.jsonl")) == 1  # the finished verdict only


def test_per_item_4xx_never_trips_the_breaker(tmp_path):
    with ChatServer() as server:
        judge = _judge(server, tmp_path, max_consecutive_failures=2)
        verdicts = judge.judge(_items(*[f"BAD400 n{i}" for i in range(5)], "JUDGE_YES"))
        judge.close()
    assert [v.label for v in verdicts] == [ERROR] * 5 + [CONSISTENT]
    assert "HTTP 400" in verdicts[0].raw and server.total == 6  # one attempt each: a 400 is not retried
    assert judge.transport.stats["client_errors"] == 5


def test_consecutive_failures_trip_the_breaker(tmp_path):
    with ChatServer() as server:
        judge = _judge(server, tmp_path, retries=0, max_consecutive_failures=2, concurrency=1)
        with pytest.raises(JudgeUnavailable, match="failed 2 requests in a row"):
            judge.judge(_items("FAIL500x9 a", "FAIL500x9 b", "FAIL500x9 c", "JUDGE_YES"))
        judge.close()
    assert server.total == 2  # the rest were never sent
