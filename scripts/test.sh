#!/usr/bin/env bash
# The one test command (`pnpm test`): unit tests, then integration tests against the real
# local PostgreSQL, a real Kafka broker (infra/kafka/kafka.sh) and real headless Chromium.
# A service that cannot start is a failure, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

export TEST_PG_URL="${TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
export KAFKA_BROKERS="${KAFKA_BROKERS:-127.0.0.1:19092}"

if ! pg_isready -q -d "$TEST_PG_URL" 2>/dev/null; then
  echo "test: PostgreSQL is not accepting connections at $TEST_PG_URL" >&2
  echo "      (on this kind of machine: pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start)" >&2
  exit 1
fi
if [ ! -x /usr/bin/chromium ]; then
  echo "test: /usr/bin/chromium is missing (apt-get install -y chromium)" >&2
  exit 1
fi

# Use a broker already listening on KAFKA_BROKERS (tests isolate themselves with unique topic
# prefixes); otherwise start our own from infra/kafka and stop it afterwards.
started_kafka=0
first_broker="${KAFKA_BROKERS%%,*}"
if ! (exec 3<>"/dev/tcp/${first_broker%:*}/${first_broker##*:}") 2>/dev/null; then
  KAFKA_PORT="${first_broker##*:}" bash infra/kafka/kafka.sh start
  started_kafka=1
fi
cleanup() { if [ "$started_kafka" = 1 ]; then bash infra/kafka/kafka.sh stop || true; fi; }
trap cleanup EXIT

mkdir -p test-artifacts
status=0
pnpm exec vitest run --reporter=default --reporter=json --outputFile.json=test-artifacts/vitest.json "$@" || status=$?
# One plain closing line that any CI reader understands.
node -e '
  const r = JSON.parse(require("fs").readFileSync("test-artifacts/vitest.json", "utf8"));
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : ""));
' || true
exit "$status"
