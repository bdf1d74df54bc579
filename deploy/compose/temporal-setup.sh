#!/bin/sh
# Creates the app's Temporal namespace and registers the search attributes the
# request workflow upserts (workflows/searchattributes.go; deploy/checks keeps
# this list in step). Idempotent: runs on every `docker compose up`.
set -eu
: "${TEMPORAL_ADDRESS:?}" "${NAMESPACE:?}" "${RETENTION:=30d}"

until temporal operator cluster health >/dev/null 2>&1; do
	echo "waiting for Temporal at $TEMPORAL_ADDRESS"
	sleep 2
done
temporal operator namespace describe -n "$NAMESPACE" >/dev/null 2>&1 ||
	temporal operator namespace create -n "$NAMESPACE" --retention "$RETENTION"

existing=$(temporal operator search-attribute list -n "$NAMESPACE")
for attr in RequestStatus=Keyword MissionCode=Keyword ServiceCode=Keyword RequestDeadline=Datetime AppointmentAt=Datetime; do
	name=${attr%%=*}
	if echo "$existing" | grep -qw "$name"; then
		continue
	fi
	temporal operator search-attribute create -n "$NAMESPACE" --name "$name" --type "${attr#*=}"
done
echo "namespace $NAMESPACE and its search attributes are ready"
