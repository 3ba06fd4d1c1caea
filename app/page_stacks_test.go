package main

import (
	"strings"
	"testing"

	"github.com/maxence-charriere/go-app/v9/pkg/app"

	"github.com/crowsnest-hq/crowsnest/internal/wire"
)

// A stack selected by the URL renders its editor before its record has
// arrived. This render used to panic (the services view read the nil
// record inside an eagerly evaluated app.If), which killed the app.
func TestStacksEditorBeforeRecord(t *testing.T) {
	p := &stacksPage{selected: 7}
	h := app.HTMLString(p.editorView())
	for _, want := range []string{`id="stack-form"`, `id="stack-deploy"`} {
		if !strings.Contains(h, want) {
			t.Errorf("editor lacks %s:\n%s", want, h)
		}
	}
	if strings.Contains(h, "Select a stack") {
		t.Error("a selected stack shows the empty state")
	}
	if servicesView(nil) != nil {
		t.Error("services view drawn without a record")
	}
	p.current = &wire.Stack{ID: 7, Name: "web", Status: "running", Services: []wire.StackService{{Name: "app", State: "running"}}}
	if h := app.HTMLString(p.editorView()); !strings.Contains(h, "service-list") {
		t.Errorf("record loaded, no services:\n%s", h)
	}
}
