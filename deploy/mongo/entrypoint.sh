#!/usr/bin/env bash
# Starts MongoDB (docker-compose.yml) as a single-node replica set with access control. A replica
# set with access control needs a key file its members authenticate each other with, even when
# it has one member: it is made on the first start, into the config volume, readable by mongod
# alone, and kept.
#
#   entrypoint.sh docker-entrypoint.sh mongod --replSet rs0 --keyFile /data/configdb/keyfile ...
set -euo pipefail

keyfile=${MONGO_KEYFILE:-/data/configdb/keyfile}

if [ ! -s "$keyfile" ]; then
    # 756 random bytes in base64: 1008 characters, the most a key file may hold is 1024
    (umask 077 && head -c 756 /dev/urandom | base64 -w 0 > "$keyfile")
fi
chmod 400 "$keyfile"
if [ "$(id -u)" = 0 ] && id mongodb > /dev/null 2>&1; then
    chown mongodb:mongodb "$keyfile"
fi

exec "$@"
