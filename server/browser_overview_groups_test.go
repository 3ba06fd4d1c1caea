package main

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
)

// TestBrowserOverviewGroupsByEngine: with more engines than fit open at
// once, the overview groups the containers by engine, each group closed
// to its summary line; a click opens one, a filter opens the groups with
// matches (Localhost and five more names of the same engine), and the
// engines' cards put the one that needs a look first.
func TestBrowserOverviewGroupsByEngine(t *testing.T) {
	eng := testenv.Engine(t)
	chromiumPath(t)
	id, name := testenv.Run(t, eng, testenv.RunOptions{Args: []string{"-sleep", "1h"}})
	args := []string{"--host", "zz-down=tcp://127.0.0.1:1"}
	for i := 1; i <= 5; i++ { // the same engine under five more names
		args = append(args, "--host", fmt.Sprintf("e%d=%s", i, eng.DaemonHost()))
	}
	srv := startServer(t, args...)
	b := openUI(t, srv, "/")

	group := `#containers tbody.group[data-host="e3"]`
	b.waitSelector("the e3 group's header", group+` .group-toggle[aria-expanded="false"]`, uiTimeout)
	var rows int
	b.eval("container rows while every group is closed", `document.querySelectorAll('#containers tr[data-id]').length`, &rows)
	if rows != 0 {
		t.Errorf("%d container rows shown with six engines' groups closed", rows)
	}
	if got := b.text(group + " .group-facts"); got == "" {
		t.Error("a closed group shows no summary")
	}
	var first string
	b.eval("the first engine card", `document.querySelector('#hosts .host').dataset.host`, &first)
	if first != "zz-down" {
		t.Errorf("first engine card %q, want the unreachable zz-down", first)
	}

	b.click("open the e3 group", group+" .group-toggle")
	b.waitSelector("the helper's row in the e3 group", group+` tr[data-id="`+id+`"]`, uiTimeout)
	b.eval("rows once e3 is open", `document.querySelectorAll('#containers tbody.group:not([data-host="e3"]) tr[data-id]').length`, &rows)
	if rows != 0 {
		t.Errorf("opening e3 showed %d rows of other engines", rows)
	}
	b.screenshots("overview-groups")

	b.run("filter by the helper's name", chromedp.SendKeys("#container-filter", name, chromedp.ByQuery))
	b.waitJS("every engine's group open on the helper's row", uiTimeout,
		`document.querySelectorAll('#containers tr[data-id="`+id+`"]').length === 6`,
		`document.querySelectorAll('#containers tr[data-id="`+id+`"]').length`)
	b.expectNoProblems("grouped overview")
}
