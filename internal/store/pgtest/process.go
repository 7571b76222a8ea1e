package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// debianBinaries is where Debian's postgresql-15 package puts the server programs.
const debianBinaries = "/usr/lib/postgresql/15/bin"

// binaries are the server programs and the OS user who runs them.
type binaries struct {
	dir  string
	user *osUser // nil: this process's own user
}

type osUser struct{ uid, gid int }

var findBinaries = sync.OnceValues(func() (*binaries, error) {
	dir := debianBinaries
	if _, err := os.Stat(filepath.Join(dir, "initdb")); err != nil {
		path, err := exec.LookPath("initdb")
		if err != nil {
			return nil, fmt.Errorf("no PostgreSQL binaries: neither %s/initdb nor an initdb on PATH", debianBinaries)
		}
		// The initdb on PATH may be a link to the directory with the other programs.
		if path, err = filepath.EvalSymlinks(path); err != nil {
			return nil, err
		}
		dir = filepath.Dir(path)
	}
	user, err := serverUser()
	if err != nil {
		return nil, err
	}
	return &binaries{dir: dir, user: user}, nil
})

// run runs one of the programs to completion in directory dir; its output
// is in the error.
func (b *binaries) run(ctx context.Context, dir, program string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(b.dir, program), args...)
	cmd.Dir = dir
	cmd.SysProcAttr = procAttr(b.user, false)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w\n%s", program, err, bytes.TrimSpace(out))
	}
	return nil
}

// errPortTaken says another process bound the port picked for the server
// before the server did.
var errPortTaken = errors.New("port taken")

// start starts the server on a free port, and again on another if the
// port was taken meanwhile.
func (c *Cluster) start() error {
	const attempts = 5
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		err = c.startOn(port)
		if err == nil || !errors.Is(err, errPortTaken) || attempt == attempts {
			return err
		}
	}
}

func (c *Cluster) startOn(port int) error {
	log, err := os.OpenFile(c.logPath(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	logStart, err := log.Seek(0, io.SeekEnd)
	if err != nil {
		log.Close()
		return err
	}
	cmd := exec.Command(filepath.Join(c.bins.dir, "postgres"), "-D", c.dataDir(),
		"-p", strconv.Itoa(port), "-c", "unix_socket_directories="+c.dir)
	cmd.Dir = c.dir
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = procAttr(c.bins.user, true)
	server, err := startPostmaster(cmd)
	log.Close() // the server has its own descriptor
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if err := server.waitReady(c.dataDir(), time.Minute); err != nil {
		server.kill()
		logged := c.logSince(logStart)
		if strings.Contains(logged, "Address already in use") {
			return fmt.Errorf("%w: %d", errPortTaken, port)
		}
		return fmt.Errorf("postgres %s: %w; its log ends:\n%s", c.dataDir(), err, lastLines(logged, 30))
	}
	c.port, c.server = port, server
	return nil
}

// freePort returns a TCP port that is free at 127.0.0.1 now; the server may
// still lose it to another process before binding it.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (c *Cluster) logSince(offset int64) string {
	content, err := os.ReadFile(c.logPath())
	if err != nil || offset > int64(len(content)) {
		return fmt.Sprintf("(cannot read the log: %v)", err)
	}
	return string(content[offset:])
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// postmaster is a running server process.
type postmaster struct {
	process *os.Process
	exited  chan struct{} // closed once the process has exited
}

// startPostmaster starts cmd from a goroutine locked to its OS thread until
// the process exits: the kernel sends the parent-death signal when the thread
// that started the process ends, not the process (go.dev/issue/27505), and an
// unlocked goroutine's thread may end whenever the runtime likes.
func startPostmaster(cmd *exec.Cmd) (*postmaster, error) {
	p := &postmaster{exited: make(chan struct{})}
	started := make(chan error)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := cmd.Start()
		started <- err
		if err == nil {
			cmd.Wait()
			close(p.exited)
		}
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	p.process = cmd.Process
	return p, nil
}

// waitReady waits until the server accepts connections, as pg_ctl -w does:
// by reading the status the server writes on line 8 of postmaster.pid.
func (p *postmaster) waitReady(dataDir string, timeout time.Duration) error {
	deadline := time.After(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if content, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid")); err == nil {
			lines := strings.Split(string(content), "\n")
			if len(lines) > 7 && lines[0] == strconv.Itoa(p.process.Pid) && strings.TrimSpace(lines[7]) == "ready" {
				return nil
			}
		}
		select {
		case <-p.exited:
			return errors.New("exited while starting")
		case <-deadline:
			return fmt.Errorf("not accepting connections after %v", timeout)
		case <-tick.C:
		}
	}
}

// stop asks for a fast shutdown and waits for it, killing the server if it
// takes longer than timeout.
func (p *postmaster) stop(timeout time.Duration) error {
	if err := p.process.Signal(os.Interrupt); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.kill()
		return fmt.Errorf("stop postgres: %w; killed", err)
	}
	select {
	case <-p.exited:
		return nil
	case <-time.After(timeout):
		p.kill()
		return fmt.Errorf("postgres did not shut down in %v; killed", timeout)
	}
}

func (p *postmaster) kill() {
	p.process.Kill()
	<-p.exited
}
