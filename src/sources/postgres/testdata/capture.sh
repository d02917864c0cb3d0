#!/usr/bin/env bash
# Re-captures the pgoutput fixtures (*.hex) of src/sources/postgres/decode/
# from a real server. Each scenario runs its SQL, then takes (and consumes)
# the slot's changes as hex, one pgoutput message per line.
#
#   PGPASSWORD=... src/sources/postgres/testdata/capture.sh [host] [port]
#
# ONLY=<name> re-captures only <name>.hex (the other scenarios still run,
# their changes are consumed and dropped).
#
# Needs a PostgreSQL 15 superuser and wal_level=logical. Creates and drops
# the database `logferry_fixture_capture` (not `lf_*`: scripts/test drops
# those). Captured from PostgreSQL 15.18. The decode tests assert on the
# relation names, column names and values below; the oids and LSNs in the
# files are whatever the server assigned (the tests read relation oids
# from the Relation messages, never hard-code them).
set -euo pipefail
cd "$(dirname "$0")"
HOST=${1:-127.0.0.1}
PORT=${2:-55432}
DB=logferry_fixture_capture
ONLY=${ONLY:-}
q() { PGOPTIONS="-c synchronous_commit=on ${EXTRA_PGOPTIONS:-}" psql -X -q -v ON_ERROR_STOP=1 -At -h "$HOST" -p "$PORT" -U postgres "$@"; }

# Leftovers of an interrupted run: the slot pins the database, the
# replication origin is cluster-wide.
q -d postgres <<SQL
SELECT pg_drop_replication_slot('fx') FROM pg_replication_slots WHERE slot_name = 'fx';
SELECT pg_replication_origin_drop('upstream') FROM pg_replication_origin WHERE roname = 'upstream';
DROP DATABASE IF EXISTS $DB WITH (FORCE);
SQL
q -d postgres -c "CREATE DATABASE $DB"

q -d $DB <<'SQL'
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE SCHEMA shop;
CREATE TABLE shop.items (
  id integer PRIMARY KEY,
  name varchar(20),
  price numeric(12,2),
  note text
);
CREATE TABLE full_rows (id bigint, label text);
ALTER TABLE full_rows REPLICA IDENTITY FULL;
CREATE TABLE docs (id integer PRIMARY KEY, rev integer, body text);
-- EXTERNAL: stored out of line uncompressed, so an UPDATE that does not
-- touch `body` sends it as 'u' (unchanged TOAST).
ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL;
CREATE TABLE typed (id integer PRIMARY KEY, m mood, p posint, tags text[], at timestamptz);
CREATE TABLE parent (id integer PRIMARY KEY);
CREATE TABLE child (id serial PRIMARY KEY, parent_id integer REFERENCES parent(id));
CREATE TABLE by_index (a integer NOT NULL, b text NOT NULL, c text);
CREATE UNIQUE INDEX by_index_ab ON by_index (a, b);
ALTER TABLE by_index REPLICA IDENTITY USING INDEX by_index_ab;
CREATE PUBLICATION pub FOR ALL TABLES;
SELECT pg_create_logical_replication_slot('fx', 'pgoutput');
SELECT pg_replication_origin_create('upstream');
SQL

# take FILE [extra options]: consume the slot's changes into FILE.hex
# (protocol version $PROTO, default 1)
take() {
  local file=$1
  shift
  local extra=""
  for o in "$@"; do extra="$extra,$o"; done
  local out="$file.hex"
  if [ -n "$ONLY" ] && [ "$ONLY" != "$file" ]; then out=/dev/null; fi
  q -d $DB -c "SELECT encode(data, 'hex') FROM pg_logical_slot_get_binary_changes('fx', NULL, NULL,
      'proto_version', '${PROTO:-1}', 'publication_names', 'pub', 'messages', 'true'$extra)" > "$out"
}

# default.hex: REPLICA IDENTITY DEFAULT (primary key) in a non-public schema.
q -d $DB <<'SQL'
INSERT INTO shop.items VALUES (1, 'apple', 1.50, NULL), (2, 'pear ''x'' "y"', -0.01, 'ünïcödé');
UPDATE shop.items SET price = 2.25 WHERE id = 1;
UPDATE shop.items SET id = 10 WHERE id = 2;
DELETE FROM shop.items WHERE id = 10;
SQL
take default

# full.hex: REPLICA IDENTITY FULL sends the whole old row ('O').
q -d $DB <<'SQL'
INSERT INTO full_rows VALUES (7, 'seven');
UPDATE full_rows SET label = 'SEVEN' WHERE id = 7;
DELETE FROM full_rows WHERE id = 7;
SQL
take full

# index.hex: REPLICA IDENTITY USING INDEX; a key change sends 'K'.
q -d $DB <<'SQL'
INSERT INTO by_index VALUES (1, 'one', 'c1');
UPDATE by_index SET b = 'uno' WHERE a = 1;
DELETE FROM by_index WHERE a = 1;
SQL
take index

# toast.hex: the big row is inserted first and not captured; the UPDATE of
# `rev` alone sends `body` as 'u'.
q -d $DB -c "INSERT INTO docs SELECT 1, 1, string_agg(md5(i::text), '') FROM generate_series(1, 400) i"
take toast_insert
rm -f toast_insert.hex
q -d $DB -c "UPDATE docs SET rev = 2 WHERE id = 1"
take toast

# truncate.hex: plain, then CASCADE + RESTART IDENTITY over two tables.
q -d $DB <<'SQL'
INSERT INTO parent VALUES (1);
INSERT INTO child (parent_id) VALUES (1);
TRUNCATE full_rows;
TRUNCATE parent, child RESTART IDENTITY CASCADE;
SQL
take truncate

# message.hex: a non-transactional, then a transactional logical message
# (in this order: only the commit of the second flushes the WAL of both).
q -d $DB <<'SQL'
SELECT pg_logical_emit_message(false, 'heartbeat', '\x00ff'::bytea);
SELECT pg_logical_emit_message(true, 'p', 'hello');
SQL
take message

# types.hex: enum and domain columns make the server send Type messages.
q -d $DB <<'SQL'
INSERT INTO typed VALUES (1, 'happy', 42, ARRAY['a', NULL, 'b c', '"q"'], '2024-02-29 12:00:00.5+02');
SQL
take types

# origin.hex: a transaction replayed from another node carries an Origin.
q -d $DB <<'SQL'
BEGIN;
SELECT pg_replication_origin_session_setup('upstream');
SELECT pg_replication_origin_xact_setup('0/ABCDEF', '2024-01-01 00:00:00+00');
INSERT INTO full_rows VALUES (8, 'from upstream');
COMMIT;
SQL
take origin

# binary.hex: with binary => true values arrive in binary form ('b').
q -d $DB -c "INSERT INTO shop.items VALUES (3, 'bin', 3.00, NULL)"
take binary "'binary', 'true'"

# streamed.hex: protocol 2, streaming on, and the decoding session's
# logical_decoding_work_mem at its minimum (64kB), so the server streams
# the big transactions in blocks before their end: one that commits (with
# a subtransaction rolled back after it was streamed, and a transactional
# message), then one that rolls back, then a small ordinary transaction
# (its commit flushes the WAL of the abort before it).
q -d $DB <<'SQL'
BEGIN;
INSERT INTO shop.items SELECT i, 'row ' || i, i, NULL FROM generate_series(100, 899) i;
SAVEPOINT s;
INSERT INTO shop.items SELECT i, 'undone ' || i, i, NULL FROM generate_series(1000, 1799) i;
ROLLBACK TO SAVEPOINT s;
SELECT pg_logical_emit_message(true, 'p', 'streamed');
INSERT INTO shop.items VALUES (900, 'last', 9, NULL);
COMMIT;
BEGIN;
INSERT INTO full_rows SELECT i, 'gone' FROM generate_series(1, 1000) i;
ROLLBACK;
INSERT INTO parent VALUES (2);
SQL
EXTRA_PGOPTIONS="-c logical_decoding_work_mem=64kB" PROTO=2 take streamed "'streaming', 'on'"

q -d $DB -c "SELECT pg_drop_replication_slot('fx')"
q -d $DB -c "SELECT pg_replication_origin_drop('upstream')"
q -d postgres -c "DROP DATABASE $DB WITH (FORCE)"
wc -l ./*.hex
