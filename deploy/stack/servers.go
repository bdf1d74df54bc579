package stack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"

	"github.com/openconsular/consular/internal/config"
	"github.com/openconsular/consular/internal/storage"
	"github.com/openconsular/consular/internal/temporalclient"
	"github.com/openconsular/consular/workflows/request"
)

const startTimeout = 60 * time.Second

// Postgres is a private PostgreSQL cluster: its own data folder, port and
// socket folder, never the system's cluster.
type Postgres struct {
	Bin  PostgresBinaries
	Dir  string // data folder; created with initdb when empty
	Port int
}

// URL is the connection URL of a database in this cluster.
func (pg Postgres) URL(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", pg.Port, database)
}

// Start initialises the cluster if needed, starts it and waits until it
// accepts connections. PostgreSQL refuses to run as root, so as root it runs
// as nobody, in a folder nobody owns; when nobody cannot reach pg.Dir (a
// clone in root's home folder or in a mktemp -d folder, both 0700), the data
// lives in a folder of its own under /var/lib/consular instead (see
// dataFolder), without asking anyone to change permissions.
func (pg Postgres) Start(ctx context.Context, logPath string) (*Process, error) {
	// Servers are started with exec.Command, not CommandContext: a cancelled
	// context would SIGKILL them, and we stop them gracefully instead.
	asUser := exec.Command
	if os.Geteuid() == 0 {
		nobody, err := user.Lookup("nobody")
		if err != nil {
			return nil, fmt.Errorf("PostgreSQL cannot run as root and there is no user nobody: %w", err)
		}
		uid, _ := strconv.Atoi(nobody.Uid)
		gid, _ := strconv.Atoi(nobody.Gid)
		if pg.Dir, err = dataFolder(pg.Dir, uid); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(pg.Dir, 0o700); err != nil {
			return nil, err
		}
		if err := os.Chown(pg.Dir, uid, gid); err != nil {
			return nil, err
		}
		if err := reachableBy(pg.Dir, uid); err != nil {
			return nil, err
		}
		asUser = func(name string, args ...string) *exec.Cmd {
			cmd := exec.Command(name, args...)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
			return cmd
		}
	} else if err := os.MkdirAll(pg.Dir, 0o700); err != nil {
		return nil, err
	}

	if _, err := os.Stat(filepath.Join(pg.Dir, "PG_VERSION")); err != nil {
		initdb := asUser(pg.Bin.Initdb, "-D", pg.Dir, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8")
		if out, err := initdb.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("initdb %s: %w\n%s", pg.Dir, err, lastLines(out, 10))
		}
	}
	// A server left running by a launcher that was killed holds the port and
	// the data folder; stop it before starting ours.
	stopStalePostgres(pg.Dir)
	if portInUse(pg.Port) {
		return nil, fmt.Errorf("postgres: port %d: %w", pg.Port, errPortTaken)
	}
	cmd := asUser(pg.Bin.Postgres, "-D", pg.Dir, "-p", strconv.Itoa(pg.Port), "-k", pg.Dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200")
	p, err := startProcess("postgres", logPath, syscall.SIGINT, cmd) // SIGINT: fast shutdown
	if err != nil {
		return nil, err
	}
	if err := p.WaitFor(ctx, startTimeout, func(ctx context.Context) error {
		conn, err := pgx.Connect(ctx, pg.URL("postgres"))
		if err != nil {
			return err
		}
		return conn.Close(ctx)
	}); err != nil {
		p.Kill()
		return nil, err
	}
	return p, nil
}

// CreateDatabase creates the database unless it exists.
func (pg Postgres) CreateDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	return err
}

func stopStalePostgres(dir string) {
	b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
	if err != nil || syscall.Kill(pid, 0) != nil {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGINT)
	for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(100 * time.Millisecond)
	}
}

// outsideFolders is where PostgreSQL's data goes when nobody cannot reach
// the stack's own folder.
var outsideFolders = "/var/lib/consular"

// dataFolder is where PostgreSQL, running as uid, keeps the data meant for
// dir: dir itself when uid can reach it, else a folder under outsideFolders
// named after dir's absolute path (the same checkout finds its data again),
// with a symbolic link at dir pointing to it, so the stack's folder still
// shows where its data is.
func dataFolder(dir string, uid int) (string, error) {
	// The stack's own folder lets others pass through, not read.
	if _, err := os.Stat(filepath.Dir(dir)); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(dir), 0o711); err != nil {
			return "", err
		}
	}
	if reachableBy(dir, uid) == nil {
		return dir, nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if target, err := os.Readlink(abs); err == nil && strings.HasPrefix(target, outsideFolders+"/") {
		return target, nil // moved out by an earlier start
	}
	sum := sha256.Sum256([]byte(abs))
	outside := filepath.Join(outsideFolders, "postgres-"+hex.EncodeToString(sum[:6]))
	if err := os.MkdirAll(outsideFolders, 0o711); err != nil {
		return "", fmt.Errorf("PostgreSQL runs as nobody, who cannot enter %s, and %w", filepath.Dir(abs), err)
	}
	if err := os.Chmod(outsideFolders, 0o711); err != nil {
		return "", err
	}
	if _, err := os.Lstat(abs); err == nil {
		return "", fmt.Errorf("PostgreSQL runs as nobody, who cannot enter %s: move %s out of it, or remove it to start afresh", filepath.Dir(abs), abs)
	}
	if err := os.Symlink(outside, abs); err != nil {
		return "", err
	}
	slog.Info("PostgreSQL runs as nobody, who cannot enter the stack's folder: its data is elsewhere", "data", outside, "link", abs)
	return outside, nil
}

// reachableBy checks that uid can walk down to dir, so the error names the
// folder instead of PostgreSQL failing with "permission denied".
func reachableBy(dir string, uid int) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for d := filepath.Dir(abs); ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return err
		}
		sys := st.Sys().(*syscall.Stat_t)
		if int(sys.Uid) != uid && st.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("PostgreSQL runs as nobody, who cannot enter %s: choose a state folder outside it (CONSULAR_STATE_DIR) or chmod o+x %s", d, d)
		}
		if d == "/" {
			return nil
		}
	}
}

// Temporal is the Temporal CLI's dev server: a real Temporal server with
// SQLite persistence and, unless Headless, the Web UI.
type Temporal struct {
	Bin       string
	DBFile    string
	Port      int
	UIPort    int
	Namespace string
	Headless  bool
	// CodecEndpoint, when set, is where the Web UI sends payloads to decode
	// (the API's /codec); it shows ciphertext to whoever the API refuses.
	CodecEndpoint string
	// Cluster, when set, makes this the real Temporal server on the stack's
	// PostgreSQL instead of the dev server (Bin and DBFile then play no part,
	// and the Web UI runs as a server of its own, Stack.UI).
	Cluster *Cluster
}

func (t Temporal) Address() string { return fmt.Sprintf("127.0.0.1:%d", t.Port) }

func (t Temporal) Start(ctx context.Context, logPath string) (*Process, error) {
	if t.Cluster != nil {
		return t.startCluster(ctx, logPath)
	}
	if portInUse(t.Port) {
		return nil, fmt.Errorf("temporal: port %d: %w", t.Port, errPortTaken)
	}
	args := []string{"server", "start-dev",
		"--db-filename", t.DBFile, "--ip", "127.0.0.1", "--port", strconv.Itoa(t.Port),
		"--namespace", t.Namespace, "--log-level", "warn"}
	if t.Headless {
		args = append(args, "--headless")
	} else {
		args = append(args, "--ui-port", strconv.Itoa(t.UIPort))
		if t.CodecEndpoint != "" {
			args = append(args, "--ui-codec-endpoint", t.CodecEndpoint)
		}
	}
	for _, sa := range request.SearchAttributes {
		args = append(args, "--search-attribute", sa.GetName()+"="+sa.GetValueType().String())
	}
	p, err := startProcess("temporal", logPath, syscall.SIGTERM, exec.Command(t.Bin, args...))
	if err != nil {
		return nil, err
	}
	c, err := client.NewLazyClient(client.Options{HostPort: t.Address(), Namespace: t.Namespace, Logger: log.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		p.Kill()
		return nil, err
	}
	defer c.Close()
	if err := p.WaitFor(ctx, startTimeout, func(ctx context.Context) error {
		return temporalclient.Ping(ctx, c, t.Namespace)
	}); err != nil {
		p.Kill()
		return nil, err
	}
	return p, nil
}

// MinIO is a single-drive MinIO server.
type MinIO struct {
	Bin         string
	Dir         string
	Port        int
	ConsolePort int
	AccessKey   string
	SecretKey   string
	Buckets     []string
}

func (m MinIO) Endpoint() string { return fmt.Sprintf("127.0.0.1:%d", m.Port) }

// Start starts the server, waits until it is ready and creates the buckets.
func (m MinIO) Start(ctx context.Context, logPath string) (*Process, error) {
	if portInUse(m.Port) {
		return nil, fmt.Errorf("minio: port %d: %w", m.Port, errPortTaken)
	}
	if err := os.MkdirAll(m.Dir, 0o755); err != nil {
		return nil, err
	}
	cmd := exec.Command(m.Bin, "server", m.Dir, "--quiet",
		"--address", m.Endpoint(), "--console-address", fmt.Sprintf("127.0.0.1:%d", m.ConsolePort))
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+m.AccessKey, "MINIO_ROOT_PASSWORD="+m.SecretKey,
		"MINIO_UPDATE=off", "MINIO_BROWSER_REDIRECT=off")
	p, err := startProcess("minio", logPath, syscall.SIGTERM, cmd)
	if err != nil {
		return nil, err
	}
	objects, err := storage.New(config.Storage{Endpoint: m.Endpoint(), AccessKey: m.AccessKey, SecretKey: m.SecretKey})
	if err != nil {
		p.Kill()
		return nil, err
	}
	// /minio/health/ready answers 200 a moment before bucket calls stop
	// failing with "Server not initialized": creating the buckets is the test.
	if err := p.WaitFor(ctx, startTimeout, func(ctx context.Context) error {
		return storage.EnsureBuckets(ctx, objects, m.Buckets...)
	}); err != nil {
		p.Kill()
		return nil, err
	}
	return p, nil
}

// Mailpit catches every email the system sends: SMTP plus a web UI and an API
// that tests read.
type Mailpit struct {
	Bin      string
	DBFile   string
	SMTPPort int
	UIPort   int
	// TLSCert and TLSKey (PEM files), when set, make SMTP require STARTTLS.
	TLSCert, TLSKey string
}

func (m Mailpit) Start(ctx context.Context, logPath string) (*Process, error) {
	for _, port := range []int{m.SMTPPort, m.UIPort} {
		if portInUse(port) {
			return nil, fmt.Errorf("mailpit: port %d: %w", port, errPortTaken)
		}
	}
	args := []string{"--database", m.DBFile,
		"--smtp", fmt.Sprintf("127.0.0.1:%d", m.SMTPPort), "--listen", fmt.Sprintf("127.0.0.1:%d", m.UIPort),
		"--smtp-auth-accept-any", "--max", "100000", "--disable-version-check", "--quiet"}
	if m.TLSCert != "" {
		args = append(args, "--smtp-tls-cert", m.TLSCert, "--smtp-tls-key", m.TLSKey, "--smtp-require-starttls")
	} else {
		args = append(args, "--smtp-auth-allow-insecure")
	}
	cmd := exec.Command(m.Bin, args...)
	p, err := startProcess("mailpit", logPath, syscall.SIGTERM, cmd)
	if err != nil {
		return nil, err
	}
	if err := p.WaitFor(ctx, startTimeout, HTTPOK(fmt.Sprintf("http://127.0.0.1:%d/readyz", m.UIPort))); err != nil {
		p.Kill()
		return nil, err
	}
	return p, nil
}
