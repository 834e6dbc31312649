#!/usr/bin/env bash
# `make bench`'s full-stack part: the load benchmark (gunicorn + 1 and 2 celery workers) and
# the history benchmark (dashboard and CSV export at 100 000 rows), on MariaDB + Redis on
# 127.0.0.1, with the production profile. Uses its own database (brainscan_bench) and Redis
# database number (BENCH_REDIS_DB, default 13), never the ones the app or CI use.
# Extra arguments go to bench.load (e.g. --scans 100 --clients 10).
set -euo pipefail
cd "$(dirname "$0")/.."

mysqladmin -uroot -h127.0.0.1 ping >/dev/null 2>&1 || { echo "MariaDB does not answer on 127.0.0.1 (start it as .ci/run does)"; exit 1; }
redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 || { echo "Redis does not answer on 127.0.0.1 (start it as .ci/run does)"; exit 1; }

DB_PASSWORD="bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
mysql -uroot -h127.0.0.1 <<SQL
CREATE DATABASE IF NOT EXISTS brainscan_bench CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS 'brainscan_bench'@'127.0.0.1' IDENTIFIED BY '${DB_PASSWORD}';
ALTER USER 'brainscan_bench'@'127.0.0.1' IDENTIFIED BY '${DB_PASSWORD}';
GRANT ALL PRIVILEGES ON brainscan_bench.* TO 'brainscan_bench'@'127.0.0.1';
FLUSH PRIVILEGES;
SQL

export BRAINSCAN_PRODUCTION=True
export SECRET_KEY="bench-$(head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n')"
PACS_IDENTIFIERS_KEY="$(head -c 32 /dev/urandom | base64 | tr '+/' '-_')"
export PACS_IDENTIFIERS_KEY
export DB=mysql DB_NAME=brainscan_bench DB_USER=brainscan_bench DB_PASSWORD DB_HOST=127.0.0.1 DB_PORT=3306
export REDIS_URL="redis://127.0.0.1:6379/${BENCH_REDIS_DB:-13}"
export ALLOWED_HOSTS=localhost,127.0.0.1 SECURE_SSL_REDIRECT=False
export STATIC_ROOT="$PWD/var/bench-static" BRAINSCAN_TF_THREADS=1

.venv/bin/python -m bench.load "$@"
.venv/bin/python -m bench.history_mysql
echo
.venv/bin/python -m bench.report
