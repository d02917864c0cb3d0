#!/usr/bin/env python3
"""A scripted MongoDB server for tests of failures a real server will not
produce on demand: lost change-stream history, a killed cursor, a connection
reset in the middle of a change stream.

Runs on the venv that scripts/lib/mongodb.sh makes (pymongo's bson, mockupdb):

    mongo_mock.py --scenario NAME [--port 0] [--log FILE]
                  [--collections db.coll,...] [--exit-on-stdin-eof]

Listens on 127.0.0.1 only; --port 0 picks a free port. The first line on
stdout is the port number (nothing else is printed there). Every command it
receives is appended to --log as one line of relaxed extended JSON:
    {"op": "OP_MSG", "name": "aggregate", "db": "shop",
     "body": {...the whole command...},
     "mock": {...what the mock made of it, for change-stream aggregates...}}

It presents itself as the primary of a one-node replica set `mock`
(maxWireVersion 21, i.e. MongoDB 7.0) and answers:
  - hello / isMaster, ping, buildInfo, endSessions, killCursors and any other
    command with ok:1 (listCollections lists the --collections of that
    database, listDatabases their databases);
  - find and any aggregate without $changeStream with an empty cursor (id 0);
  - an aggregate with a $changeStream stage, then getMore, per scenario:

  history-lost     every $changeStream aggregate (also with resumeAfter,
                   startAfter or startAtOperationTime) fails with code 286
                   ChangeStreamHistoryLost.
  cursor-killed    the first $changeStream aggregate returns a cursor whose
                   firstBatch holds insert events 1..3 ({_id: i, n: i}) on the
                   requested namespace; the first getMore on it fails with
                   code 43 CursorNotFound (resumable). An aggregate that
                   resumes (resumeAfter/startAfter = event k's token, or
                   startAtOperationTime) returns the events after it (4..6
                   after event 3) and then empty batches with the latest
                   postBatchResumeToken, forever. An unknown token fails with
                   286 ChangeStreamHistoryLost.
  connection-reset like cursor-killed, but the first getMore gets its
                   connection reset (RST, no reply) instead of an error.

Events are deterministic: event k has clusterTime Timestamp(1700000000, k)
and resume token {_data: token_hex(k)}.

Why mockupdb: it already speaks OP_MSG (what the Rust driver uses) and
OP_QUERY (pymongo's first handshake) and hands each request to a callback;
everything here is answered from one catch-all autoresponder. Note that
mockupdb serialises all connections' handlers on one lock, so nothing here
blocks in a handler: the short wait before an empty getMore batch is sent
from a timer thread.
"""

import argparse
import datetime
import os
import socket
import struct
import sys
import threading
import traceback
import uuid

from bson import Binary, Int64, Timestamp
from bson.json_util import RELAXED_JSON_OPTIONS, dumps
from bson.objectid import ObjectId
import mockupdb

BASE_SECONDS = 1700000000
EVENTS = 6
FIRST_BATCH = 3
FIRST_CURSOR = 1001
SET_NAME = "mock"
SCENARIOS = ("history-lost", "cursor-killed", "connection-reset")
# How long an empty getMore waits before answering (a real server waits up to
# maxAwaitTimeMS); keeps a tailing client from spinning.
EMPTY_GETMORE_DELAY = 0.1


def token_hex(k):
    # Shaped like a real KeyString resume token (82 + timestamp + ...), but
    # only ever compared as an opaque string.
    return "82%08X%08X2B042C0100296E5A1004%032X46645F696400%02X0004" % (BASE_SECONDS, k, k, k)


def token(k):
    return {"_data": token_hex(k)}


def event(k, db, coll):
    return {
        "_id": token(k),
        "operationType": "insert",
        "clusterTime": Timestamp(BASE_SECONDS, k),
        "wallTime": datetime.datetime.fromtimestamp(BASE_SECONDS, datetime.timezone.utc)
        + datetime.timedelta(milliseconds=k),
        "fullDocument": {"_id": k, "n": k},
        "ns": {"db": db, "coll": coll},
        "documentKey": {"_id": k},
    }


class Mock:
    def __init__(self, scenario, collections, log_path):
        self.scenario = scenario
        self.collections = collections  # [(db, coll)]
        self.log_file = open(log_path, "a", encoding="utf-8") if log_path else None
        self.lock = threading.Lock()
        self.port = None
        self.connection_id = 0
        self.change_stream_aggregates = 0
        self.next_cursor = FIRST_CURSOR
        # cursor id -> {"ns", "db", "coll", "next": k of the next event, "first": bool}
        self.cursors = {}
        self.first_getmore_failed = False
        # --fresh-stream-empty: see change_stream_aggregate.
        self.fresh_stream_empty = False

    # --- helpers -------------------------------------------------------

    def log(self, op, name, db, body, mock=None):
        if not self.log_file:
            return
        entry = {"op": op, "name": name, "db": db, "body": body}
        if mock is not None:
            entry["mock"] = mock
        line = dumps(entry, json_options=RELAXED_JSON_OPTIONS)
        with self.lock:
            self.log_file.write(line + "\n")
            self.log_file.flush()

    def host(self):
        return "127.0.0.1:%d" % self.port

    def hello(self):
        with self.lock:
            self.connection_id += 1
            cid = self.connection_id
        now = datetime.datetime.now(datetime.timezone.utc)
        op_time = {"ts": Timestamp(BASE_SECONDS, EVENTS), "t": Int64(1)}
        # No topologyVersion: drivers then poll instead of using the
        # streaming (awaitable hello, moreToCome) protocol, which this mock
        # does not speak.
        return {
            "helloOk": True,
            "isWritablePrimary": True,
            "ismaster": True,
            "secondary": False,
            "setName": SET_NAME,
            "setVersion": 1,
            "hosts": [self.host()],
            "primary": self.host(),
            "me": self.host(),
            "electionId": ObjectId("7fffffff0000000000000001"),
            "lastWrite": {"opTime": op_time, "lastWriteDate": now, "majorityOpTime": op_time, "majorityWriteDate": now},
            "maxBsonObjectSize": 16777216,
            "maxMessageSizeBytes": 48000000,
            "maxWriteBatchSize": 100000,
            "localTime": now,
            "logicalSessionTimeoutMinutes": 30,
            "connectionId": cid,
            "minWireVersion": 0,
            "maxWireVersion": 21,
            "readOnly": False,
            "ok": 1.0,
        }

    def err(self, code, code_name, errmsg):
        return {"ok": 0.0, "errmsg": errmsg, "code": code, "codeName": code_name}

    def history_lost(self):
        return self.err(
            286,
            "ChangeStreamHistoryLost",
            "Resume of change stream was not possible, as the resume point may no longer be in the oplog.",
        )

    def stream_target(self, db, body):
        """(db, coll, cursor ns) of a $changeStream aggregate."""
        target = body.get("aggregate")
        if isinstance(target, str):
            return db, target, "%s.%s" % (db, target)
        # aggregate: 1 on a database (or on admin with allChangesForCluster):
        # events come from the first configured collection of that database,
        # else the first configured one.
        match = [c for c in self.collections if c[0] == db] or self.collections
        return match[0][0], match[0][1], "%s.$cmd.aggregate" % db

    # --- commands ------------------------------------------------------

    def change_stream_aggregate(self, db, body, stage):
        ev_db, ev_coll, ns = self.stream_target(db, body)
        resume = stage.get("resumeAfter") or stage.get("startAfter")
        start_at = stage.get("startAtOperationTime")
        if self.fresh_stream_empty and resume is None and start_at is None:
            # Like a real server: a stream opened without a start point
            # begins "now", before event 1, with an empty first batch.
            with self.lock:
                cursor_id = self.next_cursor
                self.next_cursor += 1
            self.cursors[cursor_id] = {"ns": ns, "db": ev_db, "coll": ev_coll, "next": 1, "first": False}
            reply = {
                "cursor": {"firstBatch": [], "postBatchResumeToken": token(0), "id": Int64(cursor_id), "ns": ns},
                "operationTime": Timestamp(BASE_SECONDS, 0),
                "ok": 1.0,
            }
            return reply, {"change_stream": True, "result": "fresh-stream-empty"}
        if self.scenario == "history-lost":
            return self.history_lost(), {"change_stream": True, "result": "history-lost"}
        with self.lock:
            self.change_stream_aggregates += 1
            first = self.change_stream_aggregates == 1
            cursor_id = self.next_cursor
            self.next_cursor += 1
        note = {"change_stream": True, "aggregate_number": self.change_stream_aggregates}
        if resume is not None:
            data = resume.get("_data") if isinstance(resume, dict) else None
            known = [k for k in range(0, EVENTS + 1) if data == token_hex(k)]
            note["resume_token_event"] = known[0] if known else None
            if not known:
                note["result"] = "unknown-token"
                return self.history_lost(), note
            start = known[0] + 1
        elif start_at is not None:
            # The first event at or after the given time.
            later = [k for k in range(1, EVENTS + 1) if Timestamp(BASE_SECONDS, k) >= start_at]
            start = later[0] if later else EVENTS + 1
            note["start_at_operation_time"] = {"t": start_at.time, "i": start_at.inc}
        else:
            start = 1
        if first:
            end = min(start + FIRST_BATCH - 1, EVENTS)
        else:
            end = EVENTS
        batch = [event(k, ev_db, ev_coll) for k in range(start, end + 1)]
        latest = end if end >= start else start - 1
        note["events"] = [start, end] if batch else []
        self.cursors[cursor_id] = {"ns": ns, "db": ev_db, "coll": ev_coll, "next": end + 1, "first": first}
        reply = {
            "cursor": {
                "firstBatch": batch,
                "postBatchResumeToken": token(latest),
                "id": Int64(cursor_id),
                "ns": ns,
            },
            "operationTime": Timestamp(BASE_SECONDS, max(latest, 0)),
            "ok": 1.0,
        }
        return reply, note

    def get_more(self, request, body):
        cursor_id = int(body.get("getMore", 0))
        cursor = self.cursors.get(cursor_id)
        if cursor is None:
            return self.err(43, "CursorNotFound", "cursor id %d not found" % cursor_id), {"cursor": cursor_id}
        if cursor["first"] and self.scenario in ("cursor-killed", "connection-reset"):
            del self.cursors[cursor_id]
            if self.scenario == "connection-reset":
                return "reset", {"cursor": cursor_id, "result": "connection-reset"}
            return self.err(43, "CursorNotFound", "cursor id %d not found" % cursor_id), {
                "cursor": cursor_id,
                "result": "cursor-killed",
            }
        start = cursor["next"]
        batch = [event(k, cursor["db"], cursor["coll"]) for k in range(start, EVENTS + 1)]
        cursor["next"] = EVENTS + 1
        reply = {
            "cursor": {
                "nextBatch": batch,
                "postBatchResumeToken": token(EVENTS),
                "id": Int64(cursor_id),
                "ns": cursor["ns"],
            },
            "operationTime": Timestamp(BASE_SECONDS, EVENTS),
            "ok": 1.0,
        }
        return reply, {"cursor": cursor_id, "events": [start, EVENTS] if batch else []}

    def empty_cursor(self, db, body, name):
        coll = body.get(name)
        ns = "%s.%s" % (db, coll) if isinstance(coll, str) else "%s.$cmd.%s" % (db, name)
        return {"cursor": {"firstBatch": [], "id": Int64(0), "ns": ns}, "ok": 1.0}

    def list_collections(self, db, body):
        wanted = (body.get("filter") or {}).get("name")
        batch = []
        for cdb, coll in self.collections:
            if cdb != db or (isinstance(wanted, str) and wanted != coll):
                continue
            if body.get("nameOnly"):
                batch.append({"name": coll, "type": "collection"})
                continue
            batch.append(
                {
                    "name": coll,
                    "type": "collection",
                    "options": {},
                    "info": {"readOnly": False, "uuid": Binary.from_uuid(uuid.uuid5(uuid.NAMESPACE_URL, "%s.%s" % (cdb, coll)))},
                    "idIndex": {"v": 2, "key": {"_id": 1}, "name": "_id_"},
                }
            )
        return {"cursor": {"firstBatch": batch, "id": Int64(0), "ns": "%s.$cmd.listCollections" % db}, "ok": 1.0}

    def list_databases(self):
        names = sorted({db for db, _ in self.collections})
        dbs = [{"name": n, "sizeOnDisk": Int64(8192), "empty": False} for n in names]
        return {"databases": dbs, "totalSize": Int64(8192 * len(dbs)), "totalSizeMb": Int64(0), "ok": 1.0}

    def build_info(self):
        return {
            "version": "7.0.0",
            "versionArray": [7, 0, 0, 0],
            "gitVersion": "mock",
            "bits": 64,
            "maxBsonObjectSize": 16777216,
            "storageEngines": ["wiredTiger"],
            "ok": 1.0,
        }

    # --- dispatch ------------------------------------------------------

    def handle(self, request):
        try:
            self._handle(request)
        except Exception:  # a bug here must not kill the connection thread silently
            traceback.print_exc(file=sys.stderr)
            try:
                request.replies({"ok": 0.0, "code": 8, "codeName": "UnknownError", "errmsg": "mock failure"})
            except OSError:
                pass
        return True

    def _handle(self, request):
        body = request.doc
        name = request.command_name or ""
        db = body.get("$db") or request.namespace or ""
        lname = name.lower()
        note = None
        if lname in ("hello", "ismaster"):
            reply = self.hello()
        elif lname == "aggregate":
            pipeline = body.get("pipeline") or []
            stage = pipeline[0].get("$changeStream") if pipeline and isinstance(pipeline[0], dict) else None
            if stage is not None:
                reply, note = self.change_stream_aggregate(db, body, stage)
            else:
                reply = self.empty_cursor(db, body, "aggregate")
        elif lname == "getmore":
            reply, note = self.get_more(request, body)
        elif lname == "find":
            reply = self.empty_cursor(db, body, "find")
        elif lname == "listcollections":
            reply = self.list_collections(db, body)
        elif lname == "listdatabases":
            reply = self.list_databases()
        elif lname == "buildinfo":
            reply = self.build_info()
        elif lname == "killcursors":
            ids = body.get("cursors") or []
            for c in ids:
                self.cursors.pop(int(c), None)
            reply = {"cursorsKilled": ids, "cursorsNotFound": [], "cursorsAlive": [], "cursorsUnknown": [], "ok": 1.0}
        else:
            # ping, endSessions, getParameter, serverStatus, ...: ok.
            reply = {"ok": 1.0}
        op = "OP_MSG" if isinstance(request, mockupdb.OpMsg) else "OP_QUERY"
        self.log(op, name, db, body, note)

        if reply == "reset":
            # Abrupt close: SO_LINGER 0 makes close() send RST. mockupdb's
            # connection loop then fails its next read and ends.
            sock = request._client  # noqa: SLF001 (mockupdb keeps the socket there)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        elif lname == "getmore" and reply.get("ok") and not reply["cursor"]["nextBatch"]:
            t = threading.Timer(EMPTY_GETMORE_DELAY, self._late_reply, (request, reply))
            t.daemon = True
            t.start()
        else:
            request.replies(reply)

    @staticmethod
    def _late_reply(request, reply):
        try:
            request.replies(reply)
        except OSError:
            pass  # the client went away meanwhile


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", required=True, choices=SCENARIOS)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log", help="append received commands here, one JSON line each")
    ap.add_argument("--collections", default="shop.items", help="db.coll,... for listCollections and events")
    ap.add_argument(
        "--exit-on-stdin-eof",
        action="store_true",
        help="exit when stdin closes (the test process that spawned us died)",
    )
    ap.add_argument(
        "--fresh-stream-empty",
        action="store_true",
        help="a change stream opened without resumeAfter/startAfter/startAtOperationTime starts before "
        "event 1 with an empty first batch (as a real server's new stream does); events then come to "
        "streams resumed after that token",
    )
    args = ap.parse_args()
    collections = []
    for item in args.collections.split(","):
        db, _, coll = item.strip().partition(".")
        if not db or not coll:
            ap.error("--collections wants db.coll,...: %r" % item)
        collections.append((db, coll))

    mock = Mock(args.scenario, collections, args.log)
    mock.fresh_stream_empty = args.fresh_stream_empty
    server = mockupdb.MockupDB(port=args.port, request_timeout=int(1e6))
    # mockupdb binds ('localhost', port); bind the loopback address explicitly.
    server._address = ("127.0.0.1", args.port)  # noqa: SLF001
    server.autoresponds(mock.handle)
    mock.port = server.run()
    assert server._listening_sock.getsockname()[0] == "127.0.0.1"  # noqa: SLF001
    sys.stdout.write("%d\n" % mock.port)
    sys.stdout.flush()

    if args.exit_on_stdin_eof:
        while sys.stdin.buffer.read(4096):
            pass
    else:
        threading.Event().wait()
    server.stop()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
    os._exit(0)
