#!/usr/bin/env bash
# Spark 4 needs Java 17+ (the machine's when it is new enough, else Debian's OpenJDK 17), and the Spark
# engine reads PostgreSQL over JDBC with Debian's PostgreSQL JDBC driver (/usr/share/java/postgresql.jar).
set -euo pipefail
version() { java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1; }
packages=()
if ! { command -v java >/dev/null 2>&1 && [ "$(version)" -ge 17 ] 2>/dev/null; }; then
  packages+=(openjdk-17-jre-headless)
fi
[ -f /usr/share/java/postgresql.jar ] || packages+=(libpostgresql-jdbc-java)
[ ${#packages[@]} -eq 0 ] && exit 0
echo "installing ${packages[*]} (Spark 4 needs Java 17+; JDBC reads of PostgreSQL need the driver)..." >&2
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
$SUDO apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${packages[@]}" >&2
[ "$(version)" -ge 17 ] || { echo "Java 17+ is still missing" >&2; exit 1; }
