package testenv

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestPodmanRunsTheHelper checks the Podman service end to end: the helper
// image loads through its API, a helper container runs and prints, and the
// podman tool sees the same container.
func TestPodmanRunsTheHelper(t *testing.T) {
	p := Podman(t)
	image := p.HelperImage(t)
	if !strings.HasPrefix(image, "localhost/"+HelperRepo+":") {
		t.Errorf("helper image %q", image)
	}
	id, name := Run(t, p.Client(), RunOptions{Args: []string{"-lines", "2", "-exit", "0"}})
	WaitLog(t, p.Client(), id, "line 2")
	WaitExit(t, p.Client(), id)

	var listed []struct {
		ID    string   `json:"Id"`
		Names []string `json:"Names"`
		Image string   `json:"Image"`
	}
	key, value := Label(t)
	out := p.Output(t, "ps", "--all", "--format", "json", "--filter", "label="+key+"="+value)
	if err := json.Unmarshal(out, &listed); err != nil {
		t.Fatalf("podman ps: %v: %s", err, out)
	}
	if len(listed) != 1 || listed[0].ID != id || listed[0].Names[0] != name || listed[0].Image != image {
		t.Errorf("podman ps lists %+v, want %.12s %s of %s", listed, id, name, image)
	}
	if p.Version() == "" {
		t.Error("no Podman version")
	}
	t.Logf("%s", p)
}
