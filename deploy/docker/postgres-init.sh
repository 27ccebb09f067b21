#!/bin/bash
# deploy/docker/postgres-init.sh — creates Serphona's database and roles in
# the official postgres image (mounted into /docker-entrypoint-initdb.d/, run
# once by the image's entrypoint as the superuser on an empty data directory).
# The same roles as the local stack (deploy/local/postgres.sh):
#   serphona_owner  owns database serphona and the service schemas, runs the
#                   migrations; password SERPHONA_OWNER_PASSWORD
#   serphona_app    owns nothing, cannot bypass row-level security: the
#                   services run as this role; password SERPHONA_APP_PASSWORD
# A production PostgreSQL needs the same two roles and database (README,
# "Deployment").
set -euo pipefail

: "${SERPHONA_OWNER_PASSWORD:?set SERPHONA_OWNER_PASSWORD}"
: "${SERPHONA_APP_PASSWORD:?set SERPHONA_APP_PASSWORD}"

psql -X -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
    -v owner_pw="$SERPHONA_OWNER_PASSWORD" -v app_pw="$SERPHONA_APP_PASSWORD" <<'SQL'
SELECT 'CREATE ROLE serphona_owner' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'serphona_owner') \gexec
SELECT 'CREATE ROLE serphona_app' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'serphona_app') \gexec
SELECT format('ALTER ROLE serphona_owner LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOBYPASSRLS PASSWORD %L', :'owner_pw') \gexec
SELECT format('ALTER ROLE serphona_app LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOBYPASSRLS NOINHERIT PASSWORD %L', :'app_pw') \gexec
SELECT 'CREATE DATABASE serphona OWNER serphona_owner' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'serphona') \gexec
REVOKE ALL ON DATABASE serphona FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE serphona TO serphona_app;
GRANT ALL ON DATABASE serphona TO serphona_owner;
SQL
psql -X -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname serphona <<'SQL'
ALTER SCHEMA public OWNER TO serphona_owner;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO serphona_app;
SQL
