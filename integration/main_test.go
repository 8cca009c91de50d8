// Package integration holds berth's end-to-end tests: they run the built binary (BERTH_BINARY,
// default bin/berth) as root through the commands a user types, against images served by a
// private registry on 127.0.0.1 (see package harness and package fixtures).
package integration

import (
	"testing"

	"github.com/berth-project/berth/integration/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }
