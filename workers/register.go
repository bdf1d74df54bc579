package main

import (
	"go.temporal.io/sdk/worker"

	"github.com/openconsular/consular/activities"
	"github.com/openconsular/consular/workflows"
)

// register puts every workflow and activity on the worker.
func register(w worker.Registry, projection *activities.Projection) {
	w.RegisterWorkflow(workflows.Request)
	w.RegisterActivity(projection)
}
