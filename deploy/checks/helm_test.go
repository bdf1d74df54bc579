package checks

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/lint/support"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/client-go/kubernetes/scheme"
)

var chartDir = Path("deploy/helm/consular")

// fullValues turn on everything optional: the chart-made Secret (so its
// required values), the Ingress, the backlog metric, fixed API replicas,
// scheduling constraints.
func fullValues() map[string]any {
	return map[string]any{
		"secrets": map[string]any{
			"existingSecret": "",
			"values": map[string]any{
				"CONSULAR_DATABASE_URL":        "postgres://consular:pw@db:5432/consular?sslmode=verify-full",
				"CONSULAR_MINIO_ACCESS_KEY":    "consular-app",
				"CONSULAR_MINIO_SECRET_KEY":    "s3cret",
				"CONSULAR_SMTP_USERNAME":       "mailer",
				"CONSULAR_SMTP_PASSWORD":       "s3cret",
				"CONSULAR_PAYLOAD_KEYS":        "p1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
				"CONSULAR_RECEIPT_SIGNING_KEY": "r1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
				"CONSULAR_LINK_KEY":            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
				"CONSULAR_TOTP_KEY":            "t1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
				"CONSULAR_STAFF_API_KEY":       "s3cret",
				"CONSULAR_OPERATOR_TOKEN":      "s3cret",
			},
		},
		"ingress": map[string]any{"enabled": true, "className": "nginx",
			"tls": []any{map[string]any{"secretName": "consular-tls", "hosts": []any{"consular.example"}}}},
		"api": map[string]any{"autoscaling": map[string]any{"enabled": false},
			"nodeSelector": map[string]any{"kubernetes.io/os": "linux"},
			"topologySpreadConstraints": []any{map[string]any{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
				"whenUnsatisfiable": "ScheduleAnyway", "labelSelector": map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/component": "api"}}}}},
		"worker":      map[string]any{"autoscaling": map[string]any{"backlog": map[string]any{"enabled": true}}},
		"config":      map[string]any{"CONSULAR_RECEIPT_PREVIOUS_KEYS": "r0:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},
		"temporalTLS": map[string]any{"secretName": "consular-temporal-client"}, // mTLS to Temporal, rendered and decoded too
	}
}

var valueSets = map[string]func() map[string]any{
	"defaults": func() map[string]any { return map[string]any{} },
	"full":     fullValues,
}

// The dependency Helm cannot download here. The CLI's `helm install` and
// `helm template` refuse a chart whose dependency is missing from charts/
// (action.CheckDependencies) even when its condition is false; lint only
// warns. The tests load the chart as `helm dependency update` would leave
// it, with a stand-in for the Temporal chart (same name and version, no
// templates): disabled by temporal.enabled=false, it renders nothing, as the
// real one would not.
func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	err = action.CheckDependencies(ch, ch.Metadata.Dependencies)
	if err == nil || !strings.Contains(err.Error(), "temporal") {
		t.Fatalf("CheckDependencies without charts/: got %v, want temporal missing (was the chart vendored?)", err)
	}
	var dep *chart.Dependency
	for _, d := range ch.Metadata.Dependencies {
		if d.Name == "temporal" {
			dep = d
		}
	}
	stub := &chart.Chart{Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: dep.Name, Version: dep.Version, Type: "application"},
		Values: map[string]any{}}
	ch.AddDependency(stub)
	if err := action.CheckDependencies(ch, ch.Metadata.Dependencies); err != nil {
		t.Fatal(err)
	}
	return ch
}

type rendered struct {
	source string // the template it came from
	hook   string // helm.sh/hook events, for hooks
	yaml   string
	obj    runtime.Object
}

// render does what `helm template` does (action.Install, client only), then
// decodes every object strictly into its Kubernetes API type.
func render(t *testing.T, vals map[string]any) []rendered {
	t.Helper()
	out, err := renderManifests(loadChart(t), vals)
	if err != nil {
		t.Fatal(err)
	}
	for i := range out {
		obj, err := decodeStrict(out[i].yaml)
		if err != nil {
			t.Errorf("%s: %v\n%s", out[i].source, err, out[i].yaml)
		}
		out[i].obj = obj
	}
	return out
}

func renderManifests(ch *chart.Chart, vals map[string]any) ([]rendered, error) {
	install := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	install.ClientOnly, install.DryRun = true, true
	install.ReleaseName, install.Namespace = "consular", "consular"
	install.DisableHooks = false
	rel, err := install.Run(ch, vals)
	if err != nil {
		return nil, err
	}
	var out []rendered
	for _, m := range releaseutil.SplitManifests(rel.Manifest) {
		src, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimSpace(m), "# Source: "), "\n")
		out = append(out, rendered{source: src, yaml: m})
	}
	for _, h := range rel.Hooks {
		var events []string
		for _, e := range h.Events {
			events = append(events, string(e))
		}
		out = append(out, rendered{source: h.Path, hook: strings.Join(events, ","), yaml: h.Manifest})
	}
	if len(out) == 0 {
		return nil, errors.New("the chart rendered nothing")
	}
	return out, nil
}

var strictYAML = json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme.Scheme, scheme.Scheme,
	json.SerializerOptions{Yaml: true, Strict: true})

// decodeStrict decodes one manifest into its typed object: an unknown kind,
// an unknown or misspelt field, a duplicate field or a wrong type is an error.
func decodeStrict(manifest string) (runtime.Object, error) {
	obj, _, err := strictYAML.Decode([]byte(manifest), nil, nil)
	return obj, err
}

func TestChartLints(t *testing.T) {
	for name, vals := range valueSets {
		res := action.NewLint().Run([]string{chartDir}, vals())
		for _, m := range res.Messages {
			missingDep := strings.Contains(m.Err.Error(), "missing these dependencies: temporal")
			if m.Severity >= support.WarningSev && !missingDep {
				t.Errorf("%s values: %s", name, m)
			}
		}
		for _, err := range res.Errors {
			if !strings.Contains(err.Error(), "missing these dependencies: temporal") {
				t.Errorf("%s values: %v", name, err)
			}
		}
	}
}

func TestChartRendersValidKubernetesObjects(t *testing.T) {
	for name, vals := range valueSets {
		t.Run(name, func(t *testing.T) {
			objs := render(t, vals())
			kinds := map[string]int{}
			for _, r := range objs {
				if r.obj != nil {
					kinds[fmt.Sprintf("%T", r.obj)]++
				}
			}
			want := map[string]int{"*v1.Deployment": 2, "*v1.Service": 2, "*v1.ConfigMap": 1,
				"*v2.HorizontalPodAutoscaler": 2, "*v1.PodDisruptionBudget": 2, "*v1.Job": 2}
			if name == "full" {
				want["*v2.HorizontalPodAutoscaler"] = 1
				want["*v1.Secret"] = 2 // the release's and the migrate hook's
				want["*v1.Ingress"] = 1
			}
			for k, n := range want {
				if kinds[k] != n {
					t.Errorf("%d %s, want %d (all: %v)", kinds[k], k, n, kinds)
				}
			}
		})
	}
}

// Strict decoding is what catches a misspelt field: prove it on a rendered
// Deployment, where Kubernetes' own non-strict decoding would drop it.
func TestStrictDecodingRejectsAMisspeltField(t *testing.T) {
	for _, r := range render(t, nil) {
		d, ok := r.obj.(*appsv1.Deployment)
		if !ok || !strings.HasSuffix(d.Name, "-api") {
			continue
		}
		for _, typo := range [][2]string{{"readinessProbe:", "readinesProbe:"}, {"runAsNonRoot:", "runAsNonroot:"}, {"replicas:", "replica:"}} {
			if !strings.Contains(r.yaml, typo[0]) && typo[0] == "replicas:" {
				continue // autoscaled: no replicas field to misspell
			}
			bad := strings.Replace(r.yaml, typo[0], typo[1], 1)
			if bad == r.yaml {
				t.Fatalf("no %s in the API Deployment", typo[0])
			}
			_, err := decodeStrict(bad)
			if err == nil || !runtime.IsStrictDecodingError(err) || !strings.Contains(err.Error(), strings.TrimSuffix(typo[1], ":")) {
				t.Errorf("%s misspelt as %s: got %v, want a strict decoding error naming it", typo[0], typo[1], err)
			}
		}
		if _, err := decodeStrict(r.yaml); err != nil {
			t.Errorf("the unchanged Deployment: %v", err)
		}
		return
	}
	t.Fatal("no API Deployment rendered")
}

func TestChartRequiresSecretsWithoutAnExistingSecret(t *testing.T) {
	_, err := renderManifests(loadChart(t), map[string]any{"secrets": map[string]any{"existingSecret": ""}})
	if err == nil || !strings.Contains(err.Error(), "secrets.values.CONSULAR_DATABASE_URL is required") {
		t.Fatalf("got %v, want a render error naming the missing secret", err)
	}
}

func TestChartPodsAreLockedDownAndProbed(t *testing.T) {
	for name, vals := range valueSets {
		t.Run(name, func(t *testing.T) {
			var api, worker *appsv1.Deployment
			var jobs []*batchv1.Job
			for _, r := range render(t, vals()) {
				var spec *corev1.PodSpec
				switch o := r.obj.(type) {
				case *appsv1.Deployment:
					spec = &o.Spec.Template.Spec
					if strings.HasSuffix(o.Name, "-api") {
						api = o
					} else {
						worker = o
					}
				case *batchv1.Job:
					spec = &o.Spec.Template.Spec
					jobs = append(jobs, o)
				default:
					continue
				}
				ps := spec.SecurityContext
				if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.RunAsUser == nil || *ps.RunAsUser == 0 {
					t.Errorf("%s: pod securityContext does not pin a non-root user", r.source)
				}
				if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
					t.Errorf("%s: mounts a service account token", r.source)
				}
				for _, c := range spec.Containers {
					sc := c.SecurityContext
					if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
						sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
						sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
						t.Errorf("%s/%s: container securityContext is not locked down", r.source, c.Name)
					}
				}
			}
			if api == nil || worker == nil {
				t.Fatal("missing the API or the worker Deployment")
			}
			c := api.Spec.Template.Spec.Containers[0]
			if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
				t.Errorf("API liveness probe: %+v, want GET /healthz", c.LivenessProbe)
			}
			if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
				t.Errorf("API readiness probe: %+v, want GET /readyz", c.ReadinessProbe)
			}
			w := worker.Spec.Template.Spec.Containers[0]
			for probe, p := range map[string]*corev1.Probe{"liveness": w.LivenessProbe, "readiness": w.ReadinessProbe} {
				if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port.String() != "http" {
					t.Errorf("worker %s probe: %+v, want GET /healthz on port http", probe, p)
				}
			}
			if len(w.Ports) != 1 || len(w.Env) == 0 || w.Env[0].Name != "CONSULAR_WORKER_HTTP_ADDR" ||
				!strings.HasSuffix(w.Env[0].Value, fmt.Sprintf(":%d", w.Ports[0].ContainerPort)) {
				t.Errorf("worker: port %+v and env %+v disagree", w.Ports, w.Env)
			}
			if len(jobs) != 2 {
				t.Fatalf("%d Jobs, want migrate and temporal-setup", len(jobs))
			}
		})
	}
}

func TestChartMigratesBeforeInstallAndUpgrade(t *testing.T) {
	for _, r := range render(t, fullValues()) {
		if j, ok := r.obj.(*batchv1.Job); ok && strings.HasSuffix(j.Name, "-migrate") {
			if r.hook != "pre-install,pre-upgrade" {
				t.Errorf("migrate Job hooks: %q, want pre-install,pre-upgrade", r.hook)
			}
			if args := j.Spec.Template.Spec.Containers[0].Args; !slices.Equal(args, []string{"migrate"}) {
				t.Errorf("migrate Job args %v", args)
			}
			if ref := j.Spec.Template.Spec.Containers[0].EnvFrom[0].SecretRef; ref == nil || ref.Name != "consular-migrate" {
				t.Errorf("migrate Job reads secret %+v, want the hook's own consular-migrate", ref)
			}
		}
		if s, ok := r.obj.(*corev1.Secret); ok && s.Name == "consular-migrate" && r.hook != "pre-install,pre-upgrade" {
			t.Errorf("the migrate Job's Secret is not a pre-install,pre-upgrade hook: %q", r.hook)
		}
	}
}

// The ConfigMap and Secret hold only variables the app reads.
func TestChartSetsOnlyVariablesTheAppReads(t *testing.T) {
	known, err := ReadmeVariables()
	if err != nil {
		t.Fatal(err)
	}
	check := func(where string, keys []string) {
		for _, k := range keys {
			if _, ok := known[k]; !ok {
				t.Errorf("%s sets %s, which the app does not read (no row in README.md)", where, k)
			}
		}
	}
	for _, r := range render(t, fullValues()) {
		switch o := r.obj.(type) {
		case *corev1.ConfigMap:
			check(r.source, keysOf(o.Data))
		case *corev1.Secret:
			check(r.source, keysOf(o.StringData))
		case *appsv1.Deployment:
			for _, e := range o.Spec.Template.Spec.Containers[0].Env {
				check(r.source, []string{e.Name})
			}
		case *batchv1.Job:
			if strings.HasSuffix(o.Name, "-migrate") {
				for _, e := range o.Spec.Template.Spec.Containers[0].Env {
					check(r.source, []string{e.Name})
				}
			}
		}
	}
}

func TestChartScalesBothOnCPUAndTheWorkerOnBacklog(t *testing.T) {
	for _, r := range render(t, nil) {
		if pdb, ok := r.obj.(*policyv1.PodDisruptionBudget); ok && pdb.Spec.MaxUnavailable == nil {
			t.Errorf("%s: no maxUnavailable", pdb.Name)
		}
		hpa, ok := r.obj.(*autoscalingv2.HorizontalPodAutoscaler)
		if !ok {
			continue
		}
		if len(hpa.Spec.Metrics) != 1 || hpa.Spec.Metrics[0].Resource == nil || hpa.Spec.Metrics[0].Resource.Name != corev1.ResourceCPU {
			t.Errorf("%s: metrics %+v, want CPU only by default", hpa.Name, hpa.Spec.Metrics)
		}
	}
	for _, r := range render(t, fullValues()) {
		if hpa, ok := r.obj.(*autoscalingv2.HorizontalPodAutoscaler); ok {
			if len(hpa.Spec.Metrics) != 2 || hpa.Spec.Metrics[1].External == nil ||
				hpa.Spec.Metrics[1].External.Metric.Selector.MatchLabels["task_queue"] != "consular-requests" {
				t.Errorf("%s: metrics %+v, want CPU and the task queue backlog", hpa.Name, hpa.Spec.Metrics)
			}
		}
	}
}

// The setup Job registers exactly the workflow's search attributes; the
// Temporal chart is a declared, conditional, disabled dependency.
func TestChartSetsUpTemporal(t *testing.T) {
	attrs, err := SearchAttributes()
	if err != nil {
		t.Fatal(err)
	}
	ch := loadChart(t)
	var got []SearchAttribute
	for _, a := range ch.Values["temporalSetup"].(map[string]any)["searchAttributes"].([]any) {
		m := a.(map[string]any)
		got = append(got, SearchAttribute{Name: m["name"].(string), Type: m["type"].(string)})
	}
	if !slices.Equal(got, attrs) {
		t.Errorf("values temporalSetup.searchAttributes %v, workflows/request/contract.go declares %v", got, attrs)
	}
	for _, r := range render(t, nil) {
		if j, ok := r.obj.(*batchv1.Job); ok && strings.Contains(j.Name, "temporal-setup") {
			script := strings.Join(j.Spec.Template.Spec.Containers[0].Args, "\n")
			for _, a := range attrs {
				if !strings.Contains(script, "--name "+a.Name+" --type "+a.Type) {
					t.Errorf("temporal-setup Job does not register %s %s:\n%s", a.Name, a.Type, script)
				}
			}
			if addr := j.Spec.Template.Spec.Containers[0].Env[0]; addr.Value != "consular-temporal-frontend:7233" {
				t.Errorf("temporal-setup Job dials %+v, want the Temporal chart's frontend", addr)
			}
		}
	}
	var dep *chart.Dependency
	for _, d := range ch.Metadata.Dependencies {
		if d.Name == "temporal" {
			dep = d
		}
	}
	if dep == nil || dep.Repository != "https://go.temporal.io/helm-charts" || dep.Condition != "temporal.enabled" || dep.Version == "" {
		t.Errorf("Chart.yaml temporal dependency %+v", dep)
	}
	if enabled := ch.Values["temporal"].(map[string]any)["enabled"]; enabled != false {
		t.Errorf("temporal.enabled defaults to %v, want false", enabled)
	}
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
