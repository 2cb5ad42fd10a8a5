#!/bin/bash
# Run a command with a PostgreSQL started for it: FWT_TEST_DB_URL names it.
# Exit status: the command's; 77 when PostgreSQL is not installed.
set -u
. "$(dirname "$0")/pg.sh"
trap pg_stop EXIT
pg_start
# the cluster, for tests that restart it
export FWT_TEST_PG_DIR=$PGD FWT_TEST_PG_BIN=$PGBIN FWT_TEST_PG_RUN="$PG_RUN"
FWT_TEST_DB_URL=$PG_URL "$@"
