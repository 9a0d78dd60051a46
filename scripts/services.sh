#!/usr/bin/env bash
# Make sure PostgreSQL (127.0.0.1:5432, database `test`, trust for local TCP) and Redis
# (127.0.0.1:6379) answer, starting them when they are installed but not running.
# Meant for throwaway development and CI machines: on first start of a fresh Debian cluster
# it allows passwordless TCP logins from 127.0.0.1, which the test suite uses.
set -euo pipefail

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() {
    for _ in $(seq 1 50); do up "$1" && return 0; sleep 0.2; done
    echo "port $1 did not open" >&2
    return 1
}

if ! up 6379; then
    echo "starting redis-server"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/hotline.log
    wait_for 6379
fi

pg_version() { ls /etc/postgresql 2>/dev/null | sort -n | tail -n 1; }
pg_ok() { psql -h 127.0.0.1 -U postgres -d postgres -Atc "select 1" >/dev/null 2>&1; }

if ! up 5432; then
    version=$(pg_version)
    if [ -z "$version" ]; then
        echo "PostgreSQL is not installed (run scripts/system-packages.sh test)" >&2
        exit 1
    fi
    echo "starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
    wait_for 5432
fi

if ! pg_ok; then
    # A fresh Debian cluster wants a password over TCP; the suite logs in without one.
    version=$(pg_version)
    hba=/etc/postgresql/$version/main/pg_hba.conf
    if [ -z "$version" ] || [ ! -w "$hba" ]; then
        echo "cannot log in to PostgreSQL at 127.0.0.1:5432 as postgres without a password" >&2
        exit 1
    fi
    if ! grep -q "hotline-test" "$hba"; then
        echo "allowing trust logins from 127.0.0.1 in $hba (test machine)"
        sed -i '1i host all all 127.0.0.1/32 trust # hotline-test\nhost all all ::1/128 trust # hotline-test' "$hba"
    fi
    pg_ctlcluster --skip-systemctl-redirect "$version" main reload
    for _ in $(seq 1 25); do pg_ok && break; sleep 0.2; done
    pg_ok || { echo "PostgreSQL still refuses the test login" >&2; exit 1; }
fi

if [ "$(psql -h 127.0.0.1 -U postgres -d postgres -Atc "select 1 from pg_database where datname = 'test'")" != 1 ]; then
    psql -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE test" >/dev/null
fi
