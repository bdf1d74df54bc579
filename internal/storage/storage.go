// Package storage connects to MinIO, where documents and receipt PDFs live.
// Buckets are private: objects leave only through the API or short-lived
// presigned URLs.
package storage

import (
	"context"
	"fmt"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/openconsular/consular/internal/config"
)

// New returns a MinIO client; it does not connect until first used.
func New(cfg config.Storage) (*minio.Client, error) {
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: cfg.UseTLS,
	})
	if err != nil {
		return nil, fmt.Errorf("minio client for %s: %w", cfg.Endpoint, err)
	}
	return client, nil
}

// Buckets names every bucket the system writes to.
func Buckets(cfg config.Storage) []string {
	return []string{cfg.DocumentsBucket, cfg.ReceiptsBucket}
}

// EnsureBuckets creates the missing buckets; existing ones are left as they are.
func EnsureBuckets(ctx context.Context, client *minio.Client, buckets ...string) error {
	for _, b := range buckets {
		exists, err := client.BucketExists(ctx, b)
		if err != nil {
			return fmt.Errorf("look up bucket %s: %w", b, err)
		}
		if exists {
			continue
		}
		if err := client.MakeBucket(ctx, b, minio.MakeBucketOptions{}); err != nil {
			return fmt.Errorf("create bucket %s: %w", b, err)
		}
	}
	return nil
}

// Ping checks that MinIO answers, accepts our credentials and has every bucket.
func Ping(ctx context.Context, client *minio.Client, buckets ...string) error {
	for _, b := range buckets {
		exists, err := client.BucketExists(ctx, b)
		if err != nil {
			return fmt.Errorf("bucket %s: %w", b, err)
		}
		if !exists {
			return fmt.Errorf("bucket %s does not exist", b)
		}
	}
	return nil
}
