#!/usr/bin/env bash
# Spark 4 needs Java 17+: use the machine's when it is new enough, else install Debian's OpenJDK 17.
set -euo pipefail
version() { java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1; }
if command -v java >/dev/null 2>&1 && [ "$(version)" -ge 17 ] 2>/dev/null; then exit 0; fi
echo "installing OpenJDK 17 (Spark 4 needs Java 17+)..." >&2
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
$SUDO apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openjdk-17-jre-headless >&2
[ "$(version)" -ge 17 ] || { echo "Java 17+ is still missing" >&2; exit 1; }
