-- bench/realprog.sql - the sqlite3 workload of bench/realprog: a fixed,
-- deterministic script for the sqlite3 CLI on an in-memory database
-- (`sqlite3 :memory: < bench/realprog.sql`).  600k rows of pseudo-random
-- text made by a linear congruential generator in a recursive CTE (SQLite's
-- random() is seeded from the OS, so it is not used), two indexes, group-by
-- queries, an update that grows every third row, a delete of a fifth, a sort and a group_concat.
-- Invariant: the output is the same under every allocator (bench/realprog
-- compares it with the first run's).
CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, s TEXT, v REAL);
WITH RECURSIVE c(i, x) AS (
  SELECT 1, 42
  UNION ALL
  SELECT i + 1, (x * 1103515245 + 12345) % 2147483648 FROM c WHERE i < 600000
)
INSERT INTO t(k, s, v)
SELECT x % 1000,
       printf('%08x', x) || substr('abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ',
                                   1 + x % 23, 3 + (x / 7) % 37),
       (x % 100000) / 7.0
FROM c;
CREATE INDEX t_k ON t(k);
CREATE INDEX t_s ON t(s);
SELECT k, count(*), round(sum(v), 1), max(s) FROM t GROUP BY k ORDER BY 2 DESC, 1 LIMIT 5;
SELECT substr(s, 1, 2) AS p, count(*), round(avg(length(s)), 3) FROM t GROUP BY p ORDER BY 2 DESC, 1 LIMIT 5;
UPDATE t SET s = s || printf('-%d', id), v = v * 2 WHERE k % 3 = 0;
DELETE FROM t WHERE k % 5 = 1;
SELECT count(*), sum(length(s)), round(sum(v), 1) FROM t;
SELECT count(DISTINCT s) FROM t;
SELECT id, s FROM t ORDER BY v DESC, s LIMIT 3 OFFSET 1000;
SELECT k, length(group_concat(s, ',')) FROM t WHERE k < 3 GROUP BY k;
