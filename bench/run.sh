#!/usr/bin/env bash
# All benchmarks, one command: `pnpm bench` (or `bash bench/run.sh`). Each prints its figures.
#
#   pnpm bench                                       replay throughput (bench/replay.ts, if present), then the timer bench
#   pnpm bench --lines 200000 --clocks 200000 --spread-seconds 60
#                                                    --lines/--seed go to the replay bench, everything else to the timer bench
#   pnpm bench --only timer --clocks 20000 --spread-seconds 30
#   pnpm bench --only replay --lines 100000
#   pnpm bench --only e2e [--signals 100000 --singles 20000 --clients 64 --brokers HOST:PORT]
#                                                    ingest → Kafka → engine beside raw Kafka and pgbench (bench/e2e.ts);
#                                                    never part of the default run (it starts its own broker)
#   pnpm bench --only tickets-single [--singles 3000 --clients 64 --pgbench-seconds 5 --runs 3 --brokers HOST:PORT --engine --log-level info]
#                                                    one ticket per request against the ingest main beside pgbench, in a
#                                                    minute or two, with what the database backends wait on (bench/tickets-single.ts)
#   pnpm bench --only board [--incidents 1000000 --open 3000 --rate 500 --seconds 20 --clients 1000 --runs 3 --rollup off|on --max-stale-ms 1000 --no-sse]
#                                                    the duty board's first page (autocannon, beside pgbench on the same SQL)
#                                                    and one alert's SSE fan-out (bench/board.ts)
#   pnpm bench --only stats                          one year of leaders' statistics on 1M incidents (bench/stats.ts)
#   pnpm bench --only notify                         a breach mail flood through the dispatcher (bench/notify.ts)
#   pnpm bench --only flood [--breaches 10000 --probes 100]
#                                                    10 000 breaches at one instant through the engine timer, ladder and
#                                                    dispatcher to a local SMTP server; other clocks' lateness (bench/flood.ts)
#   pnpm bench --only feeds [--feeds 10000 --items 3 --hosts 1000 --runs 3 --concurrency 32]
#                                                    10 000 feeds from a local HTTP server through the real FeedPoller on
#                                                    PostgreSQL: a first round (200) and a conditional-GET round (304),
#                                                    polls/s and CPU of poller, server and PostgreSQL (bench/feeds.ts)
#   pnpm bench --only signals [--signals 10000]       the engine's signal path alone (bench/signals-batch.ts), then
#                                                    PostgreSQL's floor for one batch's captured statements (bench/signals-pgbench.ts)
#   pnpm bench --only board [... --load both|autocannon|even --accept-encoding none --keep-db | --db NAME]
#   pnpm bench --only stats [--year-only --keep-db | --db NAME]
#   pnpm bench --only grouping [--no-sweep]          grouping precision/recall on the labelled sample (bench/grouping.ts);
#                                                    pure, no database — also part of the default run
#
# The timer bench needs PostgreSQL (BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432,
# a role that may CREATE DATABASE); it creates and drops its own database.
set -euo pipefail
cd "$(dirname "$0")/.."

only=all
args=()
replay_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --only) only="${2:?--only needs replay or timer}"; shift 2 ;;
    --only=*) only="${1#--only=}"; shift ;;
    --lines | --seed) replay_args+=("$1" "${2:?$1 needs a value}"); shift 2 ;;
    --lines=* | --seed=*) replay_args+=("$1"); shift ;;
    --) shift ;;
    *) args+=("$1"); shift ;;
  esac
done
case "$only" in all | replay | timer | e2e | tickets-single | board | stats | notify | flood | grouping | feeds | signals) ;; *) echo "bench: --only must be replay, timer, e2e, tickets-single, board, stats, notify, flood, grouping, feeds or signals, got '$only'" >&2; exit 2 ;; esac

export BENCH_PG_URL="${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}"

if [[ "$only" == board || "$only" == stats || "$only" == notify || "$only" == feeds || "$only" == tickets-single ]]; then
  echo "== bench/$only.ts =="
  exec node --import tsx "bench/$only.ts" --pg-url "$BENCH_PG_URL" "${args[@]}"
fi

if [[ "$only" == signals ]]; then
  # The engine's signal path alone, capturing one batch's statements, then PostgreSQL's floor for
  # exactly those statements (pgbench), in one command.
  capture="$(mktemp -d)/batch.json"
  echo "== bench/signals-batch.ts =="
  node --import tsx bench/signals-batch.ts --pg-url "$BENCH_PG_URL" --batch 500 --ingest-batch 500 --capture "$capture" "${args[@]}"
  echo "== bench/signals-pgbench.ts =="
  node --import tsx bench/signals-pgbench.ts --pg-url "$BENCH_PG_URL" --capture "$capture"
  rm -rf "$(dirname "$capture")"
  exit 0
fi

if [[ "$only" == flood ]]; then
  echo "== bench/flood.ts =="
  exec node --import tsx bench/flood.ts "${args[@]}"
fi

if [[ "$only" == grouping ]]; then
  echo "== bench/grouping.ts =="
  exec node --expose-gc --import tsx bench/grouping.ts "${args[@]}"
fi

if [[ "$only" == all ]]; then
  echo "== bench/grouping.ts =="
  node --expose-gc --import tsx bench/grouping.ts --no-sweep
fi

if [[ "$only" == e2e ]]; then
  echo "== bench/e2e.ts =="
  exec node --import tsx bench/e2e.ts --pg-url "$BENCH_PG_URL" "${args[@]}"
fi

if [[ "$only" != timer ]]; then
  if [[ -f bench/replay.ts ]]; then
    echo "== bench/replay.ts =="
    node --import tsx bench/replay.ts "${replay_args[@]}"
  else
    echo "bench: bench/replay.ts not found — skipping the replay throughput benchmark"
  fi
fi

if [[ "$only" != replay ]]; then
  if command -v pg_isready > /dev/null; then
    if ! pg_isready -q -d "$BENCH_PG_URL" -t 5; then
      echo "bench: PostgreSQL is not reachable at $BENCH_PG_URL (pg_isready failed)." >&2
      echo "bench: start it (e.g. 'service postgresql start') or point BENCH_PG_URL at a server where this role may CREATE DATABASE." >&2
      exit 2
    fi
  else
    echo "bench: pg_isready not found; the timer bench will report a connection error itself if PostgreSQL is down"
  fi
  echo "== bench/timer.ts =="
  node --import tsx bench/timer.ts --pg-url "$BENCH_PG_URL" "${args[@]}"
fi
