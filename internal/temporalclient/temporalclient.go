// Package temporalclient connects to the Temporal server with the options the
// API and the worker share.
package temporalclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"

	"github.com/openconsular/consular/internal/codec"
	"github.com/openconsular/consular/internal/config"
)

// New returns a client that connects on first use, so a Temporal server that
// is down at start shows up in /readyz instead of stopping the process. Every
// payload it sends is encrypted with the payload keys; metrics, when not
// nil, receives the SDK's metrics. With cfg.TLS set the connection is TLS
// (mTLS with a client certificate). Interceptors (tracing) apply to the
// client's calls and to workers made from it.
func New(cfg config.Temporal, payloadKeys []codec.Key, logger *slog.Logger, metrics client.MetricsHandler,
	interceptors ...interceptor.ClientInterceptor) (client.Client, error) {
	payloads, err := codec.New(payloadKeys)
	if err != nil {
		return nil, fmt.Errorf("payload codec: %w", err)
	}
	var connection client.ConnectionOptions
	if cfg.TLS.Enabled() {
		if connection.TLS, err = tlsConfig(cfg.TLS, logger); err != nil {
			return nil, err
		}
	}
	c, err := client.NewLazyClient(client.Options{
		HostPort:      cfg.Address,
		Namespace:     cfg.Namespace,
		Logger:        log.NewStructuredLogger(logger),
		DataConverter: payloads.DataConverter(),
		// Failure messages and stack traces go through the same encryption:
		// an activity's error may quote what it was working on (an SMTP
		// refusal names the recipient). The Web UI decodes them through the
		// codec endpoint like any payload.
		FailureConverter: temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
			DataConverter: payloads.DataConverter(), EncodeCommonAttributes: true,
		}),
		MetricsHandler:    metrics, // nil: none
		ConnectionOptions: connection,
		Interceptors:      interceptors,
	})
	if err != nil {
		return nil, fmt.Errorf("temporal client for %s: %w", cfg.Address, err)
	}
	return c, nil
}

// probeWorkflowID names no workflow: asking for it reaches a history shard.
const probeWorkflowID = "readyz-probe"

// Ping checks that the server answers, that our namespace exists and that
// the history service answers. The frontend answers DescribeNamespace from
// the database alone, so on a cluster whose history service is down that
// call still succeeds (found by the cluster soak); describing a workflow
// that does not exist is answered NotFound by a history shard, and fails
// (times out) without one.
func Ping(ctx context.Context, c client.Client, namespace string) error {
	_, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("describe namespace %s: %w", namespace, err)
	}
	_, err = c.WorkflowService().DescribeWorkflowExecution(ctx, &workflowservice.DescribeWorkflowExecutionRequest{
		Namespace: namespace, Execution: &commonpb.WorkflowExecution{WorkflowId: probeWorkflowID}})
	var notFound *serviceerror.NotFound
	if err != nil && !errors.As(err, &notFound) {
		return fmt.Errorf("history service of %s: %w", namespace, err)
	}
	return nil
}
