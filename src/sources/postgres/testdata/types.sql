-- Generates types.tsv: values as the server prints them (type output
-- functions, exactly what pgoutput sends) next to what they mean, computed
-- by the server without going through the text form. The test
-- `server_printed_values` in ../types/tests/printed.rs decodes column 2 and compares it
-- with column 3. Re-run with:
--
--   PGPASSWORD=... psql -X -q -At -F "$(printf '\t')" -h 127.0.0.1 -p 55432 -U postgres \
--     -f src/sources/postgres/testdata/types.sql > src/sources/postgres/testdata/types.tsv
--
-- Columns: type oid, printed text, expected:
--   date          days since 1970-01-01, or infinity / -infinity
--   time          microseconds since midnight
--   timetz        microseconds since midnight, space, offset seconds east of UTC
--   timestamp(tz) microseconds since 1970-01-01 00:00:00 (UTC), or ±infinity
--                 (via x - 2000-01-01: extract(epoch) of a timestamp near the
--                 upper limit goes through float8 and is rounded)
--   interval      months, days, microseconds (space separated)
--   float4/8      the IEEE bits in hex (float4send / float8send)
--   bytea, uuid   the bytes in hex (encode / uuid_send)
--   numeric       the text itself
--   bpchar        octet length (the padding must survive)
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = postgres;
SET TimeZone = 'UTC';
SET extra_float_digits = 3;
SELECT 1 FROM (SELECT setseed(0.4242)) s WHERE false;

CREATE TEMP TABLE d AS
  SELECT x FROM unnest(ARRAY['4714-11-24 BC', '4713-01-01 BC', '0101-02-28 BC', '0005-02-29 BC', '0001-12-31 BC',
    '0001-01-01', '0004-02-29', '1582-10-04', '1582-10-15', '1899-12-31', '1969-12-31', '1970-01-01',
    '2000-02-29', '2038-01-19', '9999-12-31', '10000-01-01', '5874897-12-31', 'infinity', '-infinity']::date[]) x
  UNION ALL SELECT date '1970-01-01' + (random() * 4000000 - 2000000)::int FROM generate_series(1, 60);
SELECT 1082, x, CASE WHEN isfinite(x) THEN (x - date '1970-01-01')::text ELSE x::text END FROM d;

CREATE TEMP TABLE t AS
  SELECT x FROM unnest(ARRAY['00:00:00', '00:00:00.000001', '12:34:56.5', '23:59:59.999999', '24:00:00']::time[]) x
  UNION ALL SELECT (random() * interval '24 hours')::time FROM generate_series(1, 20);
SELECT 1083, x, (extract(epoch FROM x) * 1000000)::bigint FROM t;

CREATE TEMP TABLE tz AS
  SELECT x FROM unnest(ARRAY['13:45:00.5+02', '00:00:00+05:30', '23:59:59.999999-03:00:15', '12:00-15:59',
    '12:00+15:59', '24:00:00+00', '00:00:00-00:00:01']::timetz[]) x
  UNION ALL SELECT format('%s%s%s', (random() * interval '24 hours')::time, CASE WHEN o < 0 THEN '-' ELSE '+' END,
    to_char(abs(o) * interval '1 second', 'HH24:MI:SS'))::timetz
    FROM (SELECT (random() * 57598 - 28799)::int o FROM generate_series(1, 20)) r;
SELECT 1266, x, (extract(epoch FROM x::time) * 1000000)::bigint || ' ' || extract(timezone FROM x)::int FROM tz;

CREATE TEMP TABLE ts AS
  SELECT x FROM unnest(ARRAY['4714-11-24 00:00:00 BC', '0044-03-15 12:00:00 BC', '0001-12-31 23:59:59.999999 BC',
    '0001-01-01 00:00:00', '1969-12-31 23:59:59.999999', '1970-01-01 00:00:00', '1970-01-01 00:00:00.000001',
    '2024-02-29 11:45:00.5', '294276-12-31 23:59:59.999999', 'infinity', '-infinity']::timestamp[]) x
  UNION ALL SELECT timestamp '1970-01-01' + random() * interval '290000 years' - interval '6000 years'
    FROM generate_series(1, 30)
  UNION ALL SELECT timestamp '1900-01-01' + random() * interval '200 years' FROM generate_series(1, 30);
SELECT 1114, x, CASE WHEN isfinite(x) THEN ((extract(epoch FROM x - timestamp '2000-01-01') + 946684800) * 1000000)::numeric(30, 0)::text
  ELSE x::text END FROM ts;
SELECT 1184, x::timestamptz,
  CASE WHEN isfinite(x) THEN ((extract(epoch FROM x::timestamptz - timestamptz '2000-01-01 00:00:00+00') + 946684800) * 1000000)::numeric(30, 0)::text ELSE x::text END
  FROM ts WHERE x > '4714-11-25 BC';
-- Other zones print other offsets (with seconds for local mean time).
SET TimeZone = 'Europe/Amsterdam';
SELECT 1184, x::timestamptz,
  CASE WHEN isfinite(x) THEN ((extract(epoch FROM x::timestamptz - timestamptz '2000-01-01 00:00:00+00') + 946684800) * 1000000)::numeric(30, 0)::text ELSE x::text END
  FROM ts WHERE x > '4714-11-25 BC' AND x < '200000-01-01';
SELECT 1184, x, ((extract(epoch FROM x - timestamptz '2000-01-01 00:00:00+00') + 946684800) * 1000000)::numeric(30, 0)::text
  FROM unnest(ARRAY['1900-01-01 00:00:00+00', '1937-07-01 00:00:00+00', '2024-03-31 00:59:59+00',
    '2024-03-31 01:00:00+00', '2024-10-27 00:30:00+00', '2024-10-27 01:30:00+00']::timestamptz[]) x;
SET TimeZone = 'America/St_Johns';
SELECT 1184, x, ((extract(epoch FROM x - timestamptz '2000-01-01 00:00:00+00') + 946684800) * 1000000)::numeric(30, 0)::text
  FROM unnest(ARRAY['1900-01-01 00:00:00+00', '2024-06-01 12:00:00.25+00', '0010-01-01 00:00:00+00 BC']::timestamptz[]) x;
SET TimeZone = 'Asia/Kolkata';
SELECT 1184, x, ((extract(epoch FROM x - timestamptz '2000-01-01 00:00:00+00') + 946684800) * 1000000)::numeric(30, 0)::text
  FROM unnest(ARRAY['1900-01-01 00:00:00+00', '2024-06-01 00:00:00+00']::timestamptz[]) x;
SET TimeZone = 'UTC';

CREATE TEMP TABLE iv AS
  SELECT x FROM unnest(ARRAY['0', '1 year 2 mons -3 days 04:05:06.789', '-1 second', '1 day', '-1 day',
    '-1 years -2 mons +3 days -04:05:06.000001', '1 day -1 second', '-1 day 1 second', '1 year -1 hour',
    '13 mons', '-178956970 years -8 mons', '178956970 years 7 mons', '2147483647 days', '-2147483648 days',
    '2562047788:00:54.775807', '-2562047788:00:54.775807', '0.000001 sec', '-0.000001 sec',
    '100 hours']::interval[]) x
  UNION ALL SELECT '-2562047788:00:54.775807'::interval - '0.000001 sec'::interval
  UNION ALL SELECT make_interval(months => (random() * 2000 - 1000)::int, days => (random() * 2000 - 1000)::int,
    secs => (random() * 20000000 - 10000000)::numeric(20, 6)::float8) FROM generate_series(1, 30)
  UNION ALL SELECT make_interval(secs => (random() * 200 - 100)::numeric(10, 6)::float8) FROM generate_series(1, 10)
  UNION ALL SELECT make_interval(months => (random() * 24 - 12)::int) FROM generate_series(1, 5);
SELECT 1186, x, (extract(year FROM x) * 12 + extract(month FROM x))::bigint || ' ' || extract(day FROM x)::bigint
  || ' ' || (extract(hour FROM x) * 3600000000 + extract(minute FROM x) * 60000000 + extract(microseconds FROM x))::numeric(30, 0)
  FROM iv;

SELECT 700, x, encode(float4send(x), 'hex')
  FROM unnest(ARRAY['NaN', 'Infinity', '-Infinity', '0', '-0', '0.1', '1.1', '3.4028235e38', '-3.4028235e38',
    '1.17549435e-38', '1.4e-45', '123456789', '16777217', '1e10', '0.3', '100']::float4[]) x;
SELECT 700, x, encode(float4send(x), 'hex') FROM (SELECT ((random() * 2 - 1) * 10 ^ (random() * 76 - 38))::float4 x
  FROM generate_series(1, 30)) r;
SELECT 701, x, encode(float8send(x), 'hex')
  FROM unnest(ARRAY['NaN', 'Infinity', '-Infinity', '0', '-0', '0.1', '0.30000000000000004', '1.7976931348623157e308',
    '-2.2250738585072014e-308', '5e-324', '1e15', '1e16', '1e-5', '1e-4', '123.456', '9007199254740993']::float8[]) x;
SELECT 701, x, encode(float8send(x), 'hex') FROM (SELECT (random() * 2 - 1) * 10 ^ (random() * 600 - 300) x
  FROM generate_series(1, 30)) r;

SELECT 1700, x, x::text
  FROM unnest(ARRAY['NaN', 'Infinity', '-Infinity', '0', '-0.00', '1e-20', '1.5e3', '-12.3400', '0.000',
    '123456789012345678901234567890.123456789012345678901234567890']::numeric[]) x;
SELECT 1700, x, x::text FROM (SELECT repeat('9', 1000)::numeric x) r;

SELECT 17, x, encode(x, 'hex')
  FROM unnest(ARRAY['\x', '\x00', '\x00ff7f80', 'abc', E'\\000\\001\\377']::bytea[]) x;
SELECT 2950, x, encode(uuid_send(x), 'hex')
  FROM unnest(ARRAY['00000000-0000-0000-0000-000000000000', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF']::uuid[]) x;
SELECT 1042, x, octet_length(x)
  FROM (VALUES ('ab'::char(5)), (''::char(3)), ('é'::char(2)), ('x'::char(1))) v(x);
