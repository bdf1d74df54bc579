// Package checks verifies the deployment files offline: deploy/Dockerfile,
// deploy/docker-compose.yml and the Helm chart in deploy/helm/consular. Its
// tests load them with the tools that run them (BuildKit's Dockerfile parser
// and linter, compose-go's loader, the Helm SDK) and decode every rendered
// Kubernetes object strictly, and compare them with what the code says: the
// variables the README documents, the dev stack's ports and the workflow's
// search attributes. It is a module of its own so that Helm and the
// Kubernetes libraries stay out of the application's go.mod.
package checks

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Root is the repository root, from this package's directory (deploy/checks).
const Root = "../.."

// Path joins a path relative to the repository root.
func Path(rel string) string { return filepath.Join(Root, filepath.FromSlash(rel)) }

var readmeRow = regexp.MustCompile("(?m)^\\| `(CONSULAR_[A-Z0-9_]+)` \\| ([^|]*) \\|")

// ReadmeVariables returns every variable of the README's configuration table
// with its default column. internal/config's tests keep that table equal to
// what the code reads, so it is the list of variables the app knows.
func ReadmeVariables() (map[string]string, error) {
	b, err := os.ReadFile(Path("README.md"))
	if err != nil {
		return nil, err
	}
	vars := map[string]string{}
	for _, m := range readmeRow.FindAllSubmatch(b, -1) {
		vars[string(m[1])] = strings.TrimSpace(string(m[2]))
	}
	if len(vars) < 10 {
		return nil, fmt.Errorf("README.md: found only %d rows of the configuration table", len(vars))
	}
	return vars, nil
}

// DevPorts reads the fixed ports of `make dev` from deploy/stack/stack.go
// (var DevPorts = Ports{Postgres: 55432, ...}), so compose follows them.
func DevPorts() (map[string]int, error) {
	lit, err := findVar(Path("deploy/stack/stack.go"), "DevPorts")
	if err != nil {
		return nil, err
	}
	cl, ok := lit.(*ast.CompositeLit)
	if !ok {
		return nil, fmt.Errorf("DevPorts is not a composite literal")
	}
	ports := map[string]int{}
	for _, e := range cl.Elts {
		kv, ok := e.(*ast.KeyValueExpr)
		if !ok {
			return nil, fmt.Errorf("DevPorts: element without a field name")
		}
		key, _ := kv.Key.(*ast.Ident)
		val, _ := kv.Value.(*ast.BasicLit)
		if key == nil || val == nil || val.Kind != token.INT {
			return nil, fmt.Errorf("DevPorts: %T: %T is not field: number", kv.Key, kv.Value)
		}
		n, err := strconv.Atoi(val.Value)
		if err != nil {
			return nil, err
		}
		ports[key.Name] = n
	}
	return ports, nil
}

// SearchAttribute is a custom search attribute and its Temporal type name, as
// the CLI's `search-attribute create --type` takes it.
type SearchAttribute struct{ Name, Type string }

// sdkTypes maps the SDK's constructors to the server's type names.
var sdkTypes = map[string]string{
	"NewSearchAttributeKeyKeyword":     "Keyword",
	"NewSearchAttributeKeyString":      "Text",
	"NewSearchAttributeKeyTime":        "Datetime",
	"NewSearchAttributeKeyInt64":       "Int",
	"NewSearchAttributeKeyFloat64":     "Double",
	"NewSearchAttributeKeyBool":        "Bool",
	"NewSearchAttributeKeyKeywordList": "KeywordList",
}

// SearchAttributes reads the attributes declared in workflows/request/contract.go.
func SearchAttributes() ([]SearchAttribute, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, Path("workflows/request/contract.go"), nil, 0)
	if err != nil {
		return nil, err
	}
	var out []SearchAttribute
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || len(call.Args) != 1 {
			return true
		}
		typ, known := sdkTypes[sel.Sel.Name]
		lit, isString := call.Args[0].(*ast.BasicLit)
		if known && isString && lit.Kind == token.STRING {
			name, err := strconv.Unquote(lit.Value)
			if err == nil {
				out = append(out, SearchAttribute{Name: name, Type: typ})
			}
		}
		return true
	})
	if len(out) == 0 {
		return nil, fmt.Errorf("workflows/request/contract.go declares no search attribute")
	}
	return out, nil
}

// GoVersion is the go line of the application's go.mod.
func GoVersion() (string, error) {
	b, err := os.ReadFile(Path("go.mod"))
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "go "); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("go.mod has no go line")
}

// ParseEnvFile reads KEY=VALUE lines, skipping comments and blank lines.
func ParseEnvFile(b []byte) map[string]string {
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	return env
}

func findVar(path, name string) (ast.Expr, error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		return nil, err
	}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.VAR {
			continue
		}
		for _, s := range gd.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if n.Name == name && i < len(vs.Values) {
					return vs.Values[i], nil
				}
			}
		}
	}
	return nil, fmt.Errorf("%s: no var %s", path, name)
}
