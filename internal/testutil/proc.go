package testutil

import (
	"bufio"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// StartReady starts cmd (its Stdout must be unset) and returns the first
// line it prints: a server's ready line, within 30 s. When the test ends
// the process gets SIGTERM and must exit cleanly within 10 s (it is killed
// otherwise); either failure fails the test.
func StartReady(t testing.TB, cmd *exec.Cmd) string {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Errorf("stop %s: %v", cmd.Path, err)
		}
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("%s: exit after SIGTERM: %v", cmd.Path, err)
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("%s: still running 10 s after SIGTERM", cmd.Path)
		}
	})
	select {
	case line, ok := <-lines:
		if !ok {
			t.Fatalf("%s: exited without a line", cmd.Path)
		}
		return line
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: no line within 30 s", cmd.Path)
		return ""
	}
}
