package storage_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/openconsular/consular/internal/storage"
	"github.com/openconsular/consular/internal/testenv"
)

func TestEnsureBucketsCreatesMissingOnesAndPingChecksThem(t *testing.T) {
	ctx := context.Background()
	client := testenv.Storage(t)
	bucket := "test-" + strings.ToLower(strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "-"))
	if err := storage.Ping(ctx, client, bucket); err == nil {
		t.Fatal("ping succeeded on a bucket that does not exist")
	}
	for range 2 { // the second call finds it and changes nothing
		if err := storage.EnsureBuckets(ctx, client, bucket); err != nil {
			t.Fatal(err)
		}
	}
	if err := storage.Ping(ctx, client, bucket); err != nil {
		t.Fatal(err)
	}

	body := bytes.Repeat([]byte("x"), 200<<10)
	if _, err := client.PutObject(ctx, bucket, "a/b.jpg", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	obj, err := client.GetObject(ctx, bucket, "a/b.jpg", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(obj)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("read back %d bytes (%v), want %d", len(got), err, len(body))
	}
}

func TestPingFailsOnWrongCredentials(t *testing.T) {
	cfg := testenv.Config(t).Storage
	cfg.SecretKey = "wrong-secret"
	client, err := storage.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := storage.Ping(context.Background(), client, storage.Buckets(cfg)...); err == nil {
		t.Fatal("ping with a wrong secret succeeded")
	}
}
