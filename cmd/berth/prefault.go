package main

// Prefaults berth's code and read-only data before the Go runtime starts (see the package).
import _ "github.com/berth-project/berth/cmd/berth/internal/prefault"
