package stats

import (
	"os"
	"testing"

	"github.com/crowsnest-hq/crowsnest/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
