package main

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/minio/minio-go/v7"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/openconsular/consular/activities"
	"github.com/openconsular/consular/internal/config"
	"github.com/openconsular/consular/internal/mail"
	"github.com/openconsular/consular/workflows"
	"github.com/openconsular/consular/workflows/request"
)

// register puts every workflow and activity on the worker, each activity
// struct holding the clients it acts through.
func register(w worker.Registry, cfg config.Config, db *pgxpool.Pool, objects *minio.Client, smtp *mail.Server) {
	// The request workflow under the name its callers start it by (package request).
	w.RegisterWorkflowWithOptions(workflows.Request, workflow.RegisterOptions{Name: request.WorkflowType})
	w.RegisterWorkflow(workflows.Purge)
	w.RegisterActivity(&activities.Retention{DB: db, Objects: objects, DocumentsBucket: cfg.Storage.DocumentsBucket})
	w.RegisterActivity(&activities.Projection{DB: db})
	w.RegisterActivity(&activities.Seats{DB: db})
	w.RegisterActivity(&activities.Documents{Objects: objects, Bucket: cfg.Storage.DocumentsBucket})
	w.RegisterActivity(&activities.Receipts{DB: db, Objects: objects, Bucket: cfg.Storage.ReceiptsBucket,
		Signer: cfg.Keys.Receipt, VerifyURL: cfg.HTTP.PublicURL + "/receipts/verify"})
	w.RegisterActivity(&activities.Mail{DB: db, SMTP: smtp, Objects: objects, ReceiptsBucket: cfg.Storage.ReceiptsBucket,
		LinkKey: cfg.Keys.Links, PublicURL: cfg.HTTP.PublicURL})
}
