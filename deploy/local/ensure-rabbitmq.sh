#!/usr/bin/env bash
# Make sure a RabbitMQ broker answers on 127.0.0.1:5672 (or AMQP_URI is set to another broker).
# Starts an installed but stopped local RabbitMQ; installs it from the system's packages only when
# running as root on a Debian-like system and INSTALL_RABBITMQ is not "no".
set -euo pipefail

if [[ -n "${AMQP_URI:-}" ]]; then exit 0; fi

port_open() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; }

if port_open; then exit 0; fi

if ! command -v rabbitmq-server >/dev/null 2>&1; then
  if [[ "$(id -u)" == 0 && "${INSTALL_RABBITMQ:-yes}" != "no" ]] && command -v apt-get >/dev/null 2>&1; then
    echo "RabbitMQ is not installed; installing it from the system's packages ..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null
  else
    echo "RabbitMQ is not installed and no broker answers on 127.0.0.1:5672." >&2
    echo "Install it (Debian/Ubuntu: sudo apt-get install rabbitmq-server), or set AMQP_URI." >&2
    exit 1
  fi
fi

echo "Starting RabbitMQ ..."
rabbitmq-server -detached >/dev/null 2>&1 || true
for _ in $(seq 1 60); do
  if port_open; then exit 0; fi
  sleep 1
done
echo "RabbitMQ did not start within 60 s; see its logs (usually /var/log/rabbitmq/)." >&2
exit 1
