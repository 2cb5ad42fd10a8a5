#!/bin/bash
# Run a command with a PostgreSQL started for it: FWT_TEST_DB_URL names it.
# Exit status: the command's; 77 when PostgreSQL is not installed.
set -u
. "$(dirname "$0")/pg.sh"
trap pg_stop EXIT
pg_start
FWT_TEST_DB_URL=$PG_URL "$@"
