"""The optional free-form answer judge of the GRPO reward, against a real local OpenAI-style HTTP server."""

from __future__ import annotations

import socket
import time

from specs_verl.reward import compute_score

from tests.selfdistill.chat_server import ChatServer

TEXT = "<think>The city on the bay.</think>\n<answer>The answer is $\\boxed{{{}}}$</answer>"


def _score(answer, gold, server_url, question="Which city is shown?", **extra):
    info = {"index": 0, "question": question, "options": [], "answer_type": "", "answers": [], "precision": None,
            **extra}
    return compute_score("mmmu", TEXT.format(answer), gold, info, judge_url=server_url, judge_model="judge",
                         judge_timeout=2.0, judge_retries=0)


def test_judge_decides_free_form_answers_that_string_equality_misses():
    with ChatServer() as server:
        yes = _score("Tampa, Florida", "Tampa", server.url)
        no = _score("St. Petersburg", "Tampa", server.url, question="Which city? JUDGE_NO")
        again = _score("Tampa, Florida", "Tampa", server.url)  # the verdict is cached
        exact = _score("Tampa", "Tampa", server.url)  # string equality settles it: no request
        number = _score("41", "42", server.url)  # numbers are never judged
        choice = _score("the red one", "B", server.url, options=["blue", "red"], answer_type="choice")
        sent = server.total
    assert (yes["acc"], yes["judged"], yes["judge_failed"]) == (1.0, 1.0, 0.0)
    assert (no["acc"], no["judged"]) == (0.0, 1.0)
    assert again["acc"] == 1.0 and exact["acc"] == 1.0 and exact["judged"] == 0.0
    assert number["judged"] == 0.0 and choice["judged"] == 0.0
    assert sent == 2


def test_judge_failure_falls_back_to_string_equality_and_never_raises():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    start = time.monotonic()
    r = _score("Tampa Bay", "Tampa", f"http://127.0.0.1:{port}/v1")
    assert (r["acc"], r["judged"], r["judge_failed"]) == (0.0, 0.0, 1.0)
    assert r["format"] == 1.0 and time.monotonic() - start < 5
    with ChatServer(status=503) as server:  # a server that always fails: failed, counted, the breaker cools down
        r = _score("Tampa Bay", "Tampa", server.url)
    assert r["judge_failed"] == 1.0 and r["acc"] == 0.0
