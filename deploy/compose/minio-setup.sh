#!/bin/sh
# Creates the buckets (private) and the app's own MinIO user, limited to them
# (minio/mc). The app never uses the root credentials. Idempotent.
set -eu
: "${MINIO_ROOT_USER:?}" "${MINIO_ROOT_PASSWORD:?}" "${CONSULAR_MINIO_ACCESS_KEY:?}" "${CONSULAR_MINIO_SECRET_KEY:?}"
docs=${CONSULAR_MINIO_DOCUMENTS_BUCKET:?}
receipts=${CONSULAR_MINIO_RECEIPTS_BUCKET:?}

mc alias set local http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD"
mc mb --ignore-existing "local/$docs" "local/$receipts"
mc anonymous set none "local/$docs"
mc anonymous set none "local/$receipts"

cat > /tmp/consular-policy.json <<JSON
{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
     "Resource": ["arn:aws:s3:::$docs", "arn:aws:s3:::$receipts"]},
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
     "Resource": ["arn:aws:s3:::$docs/*", "arn:aws:s3:::$receipts/*"]}
  ]
}
JSON
mc admin policy create local consular-app /tmp/consular-policy.json
mc admin user add local "$CONSULAR_MINIO_ACCESS_KEY" "$CONSULAR_MINIO_SECRET_KEY"
# Attaching twice is an error, and "already attached" is the state we want; a
# user without the policy shows in the API's /readyz (minio: access denied).
mc admin policy attach local consular-app --user "$CONSULAR_MINIO_ACCESS_KEY" || true
echo "buckets $docs, $receipts and user $CONSULAR_MINIO_ACCESS_KEY are ready"
