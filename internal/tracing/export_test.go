package tracing

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/openconsular/consular/internal/config"
)

// receiver is an OTLP collector's trace endpoint, over HTTP or gRPC.
type receiver struct {
	collectortrace.UnimplementedTraceServiceServer
	mu   sync.Mutex
	got  []*collectortrace.ExportTraceServiceRequest
	path string
}

func (r *receiver) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, req)
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	var in collectortrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.path = req.URL.Path
	r.mu.Unlock()
	_, _ = r.Export(req.Context(), &in)
	w.Header().Set("Content-Type", "application/x-protobuf")
	b, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	_, _ = w.Write(b)
}

// The standard's endpoint is a base URL: over HTTP the spans go to
// ENDPOINT/v1/traces, over gRPC to the endpoint itself; both carry the
// service's name.
func TestSpansReachAnOTLPReceiver(t *testing.T) {
	for _, protocol := range []string{"http/protobuf", "grpc"} {
		t.Run(protocol, func(t *testing.T) {
			r := &receiver{}
			var endpoint string
			if protocol == "grpc" {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				srv := grpc.NewServer()
				collectortrace.RegisterTraceServiceServer(srv, r)
				go func() { _ = srv.Serve(ln) }()
				t.Cleanup(srv.Stop)
				endpoint = "http://" + ln.Addr().String()
			} else {
				srv := httptest.NewServer(r)
				t.Cleanup(srv.Close)
				endpoint = srv.URL
			}
			ctx := context.Background()
			tr, err := Start(ctx, config.Tracing{Endpoint: endpoint, Protocol: protocol}, "consular-test", slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			_, span := tr.Tracer("test").Start(ctx, "POST /api/v1/requests/")
			span.End()
			if err := tr.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			if protocol == "http/protobuf" && r.path != "/v1/traces" {
				t.Errorf("spans posted to %q, want /v1/traces", r.path)
			}
			if len(r.got) != 1 || len(r.got[0].ResourceSpans) != 1 {
				t.Fatalf("received %v", r.got)
			}
			rs := r.got[0].ResourceSpans[0]
			service := ""
			for _, a := range rs.Resource.Attributes {
				if a.Key == "service.name" {
					service = a.Value.GetStringValue()
				}
			}
			if service != "consular-test" || rs.ScopeSpans[0].Spans[0].Name != "POST /api/v1/requests/" {
				t.Errorf("service %q, spans %v", service, rs.ScopeSpans)
			}
		})
	}
}
