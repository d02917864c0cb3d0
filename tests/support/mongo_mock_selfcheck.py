#!/usr/bin/env python3
"""Proves tests/support/mongo_mock.py against pymongo's change streams.

    $LOGFERRY_TEST_MONGO_PYTHON tests/support/mongo_mock_selfcheck.py

For each scenario it starts the mock, drains `watch()` on shop.items and
checks what a real driver sees and what the mock logged:
  history-lost      -> OperationFailure code 286, also with resume_after
  cursor-killed     -> events 1..6 in order, no duplicates, resumed with
                       resumeAfter = event 3's token after CursorNotFound
  connection-reset  -> the same, after a reset connection
Prints one line per check and `N passed, N failed` at the end; exit 1 on any
failure.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

import pymongo
from bson import Timestamp
from pymongo.errors import OperationFailure

HERE = os.path.dirname(os.path.abspath(__file__))
MOCK = os.path.join(HERE, "mongo_mock.py")
passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
        print("ok    %s" % what)
    else:
        failed += 1
        print("FAIL  %s" % what)


class Mock:
    def __init__(self, scenario):
        self.dir = tempfile.mkdtemp(prefix="lf-mongo-mock-")
        self.log = os.path.join(self.dir, "commands.jsonl")
        self.proc = subprocess.Popen(
            [sys.executable, MOCK, "--scenario", scenario, "--port", "0", "--log", self.log, "--exit-on-stdin-eof"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.port = int(self.proc.stdout.readline())
        self.url = "mongodb://127.0.0.1:%d/?directConnection=true" % self.port

    def commands(self):
        with open(self.log, encoding="utf-8") as f:
            return [json.loads(line) for line in f]

    def close(self):
        self.proc.stdin.close()  # the mock exits on stdin EOF
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            check(False, "mock exits when its stdin closes")


def client(url):
    return pymongo.MongoClient(url, serverSelectionTimeoutMS=5000, connectTimeoutMS=5000, socketTimeoutMS=10000)


def drain(url, want, deadline_s=20):
    """Events from watch() on shop.items until `want` arrived or time runs out."""
    c = client(url)
    got = []
    end = time.time() + deadline_s
    with c.shop.items.watch(max_await_time_ms=200) as stream:
        while len(got) < want and time.time() < end:
            ev = stream.try_next()
            if ev is not None:
                got.append(ev)
        # A couple more empty rounds: nothing further, nothing repeated.
        for _ in range(3):
            ev = stream.try_next()
            if ev is not None:
                got.append(ev)
    c.close()
    return got


def change_stream_aggregates(cmds):
    return [
        c
        for c in cmds
        if c["name"] == "aggregate" and c["body"].get("pipeline") and "$changeStream" in c["body"]["pipeline"][0]
    ]


def history_lost():
    print("-- history-lost")
    m = Mock("history-lost")
    try:
        c = client(m.url)
        for kwargs in ({}, {"resume_after": {"_data": "8200"}}, {"start_at_operation_time": Timestamp(1, 1)}):
            try:
                with c.shop.items.watch(**kwargs) as s:
                    s.try_next()
                check(False, "watch(%s) fails" % list(kwargs))
            except OperationFailure as e:
                check(e.code == 286 and "oplog" in str(e), "watch(%s) -> OperationFailure 286 (%s)" % (list(kwargs), e.details.get("codeName")))
        c.close()
        aggs = change_stream_aggregates(m.commands())
        check(len(aggs) == 3, "mock logged 3 change-stream aggregates (got %d)" % len(aggs))
        check("resumeAfter" in aggs[1]["body"]["pipeline"][0]["$changeStream"], "logged aggregate carries resumeAfter")
    finally:
        m.close()


def resumed(scenario):
    print("-- " + scenario)
    m = Mock(scenario)
    try:
        events = drain(m.url, 6)
        ns = [e["fullDocument"]["_id"] for e in events]
        check(ns == [1, 2, 3, 4, 5, 6], "events 1..6 in order, no duplicates (got %s)" % ns)
        check(all(e["ns"] == {"db": "shop", "coll": "items"} for e in events), "events carry ns shop.items")
        check(all(e["operationType"] == "insert" and e["documentKey"] == {"_id": e["fullDocument"]["_id"]} for e in events), "insert events with documentKey")
        cmds = m.commands()
        aggs = change_stream_aggregates(cmds)
        check(len(aggs) == 2, "two change-stream aggregates: the first and one resume (got %d)" % len(aggs))
        if len(aggs) >= 2:
            stage = aggs[1]["body"]["pipeline"][0]["$changeStream"]
            check(stage.get("resumeAfter") == {"_data": events[2]["_id"]["_data"]}, "resume aggregate carries resumeAfter = event 3's token")
            check(aggs[1].get("mock", {}).get("resume_token_event") == 3, "mock recognised the token as event 3's")
        getmores = [c for c in cmds if c["name"] == "getMore"]
        check(getmores and getmores[0].get("mock", {}).get("result") == scenario, "first getMore met the %s" % scenario)
        check(len(getmores) >= 2 and getmores[-1]["body"]["getMore"] == 1002, "later getMores go to the resumed cursor")
        hellos = [c for c in cmds if c["name"].lower() in ("hello", "ismaster")]
        check(len(hellos) >= 1, "handshake answered (%d hello/isMaster)" % len(hellos))
    finally:
        m.close()


def main():
    history_lost()
    resumed("cursor-killed")
    resumed("connection-reset")
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
