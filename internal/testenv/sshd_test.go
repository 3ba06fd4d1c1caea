package testenv

import (
	"net/url"
	"os/exec"
	"strings"
	"testing"
)

func TestSSHDRunsDockerOverSSH(t *testing.T) {
	s := SSHD(t)
	u, err := url.Parse(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	ssh := func() ([]byte, error) {
		return exec.Command("ssh", "-p", u.Port(), "-l", u.User.Username(),
			"-i", q.Get("identity"), "-o", "IdentitiesOnly=yes",
			"-o", "UserKnownHostsFile="+q.Get("known-hosts"), "-o", "StrictHostKeyChecking="+q.Get("strict-host-key-checking"),
			"-o", "BatchMode=yes", "-T", "--", u.Hostname(),
			"docker", "version", "--format", "{{.Server.Version}}").CombinedOutput()
	}
	out, err := ssh()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Fatalf("docker version over ssh: %v: %s", err, out)
	}
	s.Kill()
	if out, err := ssh(); err == nil {
		t.Errorf("ssh worked with sshd killed: %s", out)
	}
	s.Start()
	if out, err := ssh(); err != nil {
		t.Errorf("ssh after restart: %v: %s", err, out)
	}
}
