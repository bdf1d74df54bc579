#!/bin/sh
# Creates or upgrades Temporal's schemas (temporalio/admin-tools). Both steps
# are idempotent: setup-schema leaves a newer schema alone and update-schema
# applies only the missing versions, so this runs on every `docker compose up`.
# The databases themselves come from postgres-init.sh.
set -eu
for db in temporal visibility; do
	name=temporal
	[ "$db" = visibility ] && name=temporal_visibility
	temporal-sql-tool --plugin postgres12 --ep postgres -p 5432 -u temporal --db "$name" setup-schema -v 0.0
	temporal-sql-tool --plugin postgres12 --ep postgres -p 5432 -u temporal --db "$name" \
		update-schema -d "/etc/temporal/schema/postgresql/v12/$db/versioned"
done
