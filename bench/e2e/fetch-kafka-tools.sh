#!/usr/bin/env bash
# Fetch Kafka's ProducerPerformance (org.apache.kafka:kafka-tools) into the jar cache, once.
# Prints the lib directory (use it as a classpath: "<dir>/*").
set -euo pipefail
DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
POM="$DIR/kafka-tools.pom.xml"
VERSION="$(sed -n 's:.*<kafka\.version>\([^<]*\)</kafka\.version>.*:\1:p' "$POM" | head -n 1)"
LIB="${HUIYING_CACHE:-$HOME/.cache/huiying}/kafka-tools-$VERSION/lib"
HASH="$(sha256sum "$POM" | cut -d' ' -f1)"
if [[ -f "$LIB/.complete" && "$(cat "$LIB/.complete")" == "$HASH" ]]; then
  echo "$LIB"
  exit 0
fi
command -v mvn >/dev/null || { echo "fetch-kafka-tools: mvn not found (Maven 3.8+ is needed)" >&2; exit 1; }
tmp="$LIB.tmp.$$"
rm -rf "$tmp"
mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" >&2
ls "$tmp"/kafka-tools-"$VERSION".jar >/dev/null
rm -rf "$LIB"
mkdir -p "$(dirname "$LIB")"
mv "$tmp" "$LIB"
echo "$HASH" >"$LIB/.complete"
echo "$LIB"
