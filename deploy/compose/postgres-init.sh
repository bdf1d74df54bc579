#!/bin/sh
# Runs once, when the PostgreSQL volume is empty (docker-entrypoint-initdb.d):
# one role and database for the app, one role and two databases for Temporal.
# Neither role is a superuser.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
	-v consular_pw="$POSTGRES_CONSULAR_PASSWORD" -v temporal_pw="$POSTGRES_TEMPORAL_PASSWORD" <<'SQL'
CREATE ROLE consular LOGIN PASSWORD :'consular_pw';
CREATE DATABASE consular OWNER consular;
CREATE ROLE temporal LOGIN PASSWORD :'temporal_pw';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
SQL
