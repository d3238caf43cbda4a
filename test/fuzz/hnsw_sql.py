#!/usr/bin/env python3
"""test/fuzz/hnsw_sql.py: random SQL against embedding_hnsw, for hnsw_sql.sh.

Each round makes a table of random dimensions, fills it with vectors drawn
from extreme elements (+-3.4028235e38, +-3e38, 2e19, denormals, zeros, -0),
ordinary ones, exact duplicates, zero vectors, NULLs and pairs whose inner
product is inf - inf in float4, builds an index with a random opclass, m,
ef_construction, maintenance_work_mem (spilling builds) and parallel
workers, and then inserts, searches (plain and relaxed_order, every
operator), deletes, VACUUMs, REINDEXes and runs index_check, in random
order.  One psql session per round reads the statements from a pipe.

Checked in SQL, printed as FUZZ-INVARIANT lines: a scan returns no row
twice (the plan may be a sequential scan when the operator is not the
opclass's, or with enable_seqscan on: those rows then include NULLs, so
nothing more is asserted about which rows come back).  index_check's
complaints are counted and printed as FUZZ-CHECK lines (the driver reports
them; hnsw_sql.sh fails on them only with FUZZ_STRICT_CHECK=1).  A crash is
what hnsw_sql.sh finds in the server log (a signal, an ASan or UBSan
report) or psql losing its connection.

Usage: hnsw_sql.py SECONDS SEED PSQL-ARGS...  Prints one summary line:
  rounds N statements N invariant N check N lost N
"""
import random
import subprocess
import sys
import time

EXTREME = ["3.4028235e38", "-3.4028235e38", "3e38", "-3e38", "2e19", "-2e19",
           "1.8446744e19", "1e-45", "-1e-45", "1.4e-45", "1e-38", "-1e-38",
           "1.1754942e-38", "0", "-0", "1", "-1", "0.5"]
OPS = {"embedding_l2_ops": "<->", "embedding_ip_ops": "<#>", "embedding_cosine_ops": "<=>"}


def element(r):
    k = r.random()
    if k < 0.45:
        return r.choice(EXTREME)
    if k < 0.75:
        return "%.7g" % r.gauss(0, 1)
    if k < 0.9:
        return "%.7g" % (r.choice([1, -1]) * 10 ** r.uniform(-45, 38.5))
    return "0"


def vector(r, dims, pool):
    k = r.random()
    if pool and k < 0.15:
        return r.choice(pool)                       # an exact duplicate
    if k < 0.2:
        return "[" + ",".join(["0"] * dims) + "]"   # a zero vector
    if k < 0.3 and pool:
        # the negated big vector: l2 overflows, ip is inf - inf
        base = r.choice(pool)[1:-1].split(",")
        return "[" + ",".join(x[1:] if x.startswith("-") else "-" + x for x in base) + "]"
    if k < 0.4:
        big = r.choice(["3e38", "-3e38", "3.4028235e38"])
        return "[" + ",".join(big if r.random() < 0.5 else "1e-45" for _ in range(dims)) + "]"
    v = "[" + ",".join(element(r) for _ in range(dims)) + "]"
    if len(pool) < 64:
        pool.append(v)
    return v


def round_sql(r, n):
    """the statements of one round, as a list"""
    dims = r.choice([1, 2, 3, 4, 8, 17, 32, 64])
    opclass = r.choice(list(OPS))
    t = "fz%d" % n
    pool = []
    s = ["SET client_min_messages = warning;",
         "SET search_path = firstsight, public;",
         "SET enable_seqscan = %s;" % r.choice(["off", "off", "on"]),
         "DROP TABLE IF EXISTS %s;" % t,
         "CREATE TABLE %s (id serial PRIMARY KEY, v embedding(%d)) WITH (parallel_workers = %d);"
         % (t, dims, r.choice([0, 2]))]

    def insert(rows):
        vals = ",".join("(%s)" % ("NULL" if r.random() < 0.05 else "'%s'" % vector(r, dims, pool))
                        for _ in range(rows))
        s.append("INSERT INTO %s (v) VALUES %s;" % (t, vals))

    def search():
        op = OPS[opclass] if r.random() < 0.8 else r.choice(list(OPS.values()))
        q = vector(r, dims, pool) if r.random() < 0.9 else None
        qlit = "NULL" if q is None else "'%s'" % q
        lim = r.choice([1, 5, 10, 50, 1000])
        s.append("SET firstsight.hnsw_ef_search = %d;" % r.choice([1, 4, 40, 200, 1000]))
        s.append("SET firstsight.hnsw_iterative_scan = %s;" % r.choice(["off", "relaxed_order"]))
        s.append("SET firstsight.hnsw_max_scan_tuples = %d;" % r.choice([1, 100, 20000]))
        s.append("SELECT 'FUZZ-INVARIANT %s: ' || count(*) - count(DISTINCT s.id) || ' rows repeated' "
                 "FROM (SELECT id FROM %s ORDER BY v %s %s::embedding LIMIT %d) s "
                 "HAVING count(*) <> count(DISTINCT s.id);"
                 % (t, t, op, qlit, lim))

    for _ in range(r.randint(0, 3)):
        insert(r.randint(1, 60))
    s.append("SET maintenance_work_mem = '%s';" % r.choice(["1MB", "1MB", "64MB"]))
    s.append("SET max_parallel_maintenance_workers = %d;" % r.choice([0, 0, 2]))
    s.append("CREATE INDEX %s_idx ON %s USING embedding_hnsw (v %s) WITH (m = %d, ef_construction = %d);"
             % (t, t, opclass, r.choice([2, 3, 4, 8, 16]), r.choice([4, 8, 16, 64])))
    if r.random() < 0.2:
        insert(r.randint(500, 1500))                # more than 1 MB of graph for the spill path
    for _ in range(r.randint(5, 25)):
        k = r.random()
        if k < 0.35:
            insert(r.randint(1, 30))
        elif k < 0.7:
            search()
        elif k < 0.8:
            s.append("DELETE FROM %s WHERE id %% %d = %d;" % (t, r.randint(2, 5), r.randint(0, 1)))
        elif k < 0.88:
            s.append("VACUUM %s;" % t)
        elif k < 0.92:
            s.append("REINDEX INDEX %s_idx;" % t)
        elif k < 0.94:
            s.append("TRUNCATE %s;" % t)
        else:
            s.append("SELECT 'FUZZ-CHECK %s: ' || c FROM index_check('%s_idx') c;" % (t, t))
    s.append("SELECT 'FUZZ-CHECK %s: ' || c FROM index_check('%s_idx') c;" % (t, t))
    s.append("DROP TABLE %s;" % t)
    return s


def main():
    seconds = float(sys.argv[1])
    seed = int(sys.argv[2])
    psql = sys.argv[3:]
    r = random.Random(seed)
    deadline = time.time() + seconds
    rounds = statements = invariant = check = lost = 0
    while time.time() < deadline:
        sql = round_sql(r, rounds % 4)
        p = subprocess.run(psql, input="\n".join(sql) + "\n", capture_output=True, text=True)
        rounds += 1
        statements += len(sql)
        for line in p.stdout.splitlines():
            if "FUZZ-INVARIANT" in line:
                invariant += 1
                print(line.strip(), file=sys.stderr)
            elif "FUZZ-CHECK" in line:
                check += 1
                if check <= 20:
                    print(line.strip(), file=sys.stderr)
        if "server closed the connection" in p.stderr or "connection to server" in p.stderr:
            lost += 1
            with open("hnsw_sql-lost-%d.sql" % rounds, "w") as f:
                f.write("\n".join(sql) + "\n")
            print("round %d (seed %d): connection lost" % (rounds, seed), file=sys.stderr)
            time.sleep(2)                           # crash recovery
    print("rounds %d statements %d invariant %d check %d lost %d"
          % (rounds, statements, invariant, check, lost))


if __name__ == "__main__":
    main()
