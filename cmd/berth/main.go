// Command berth is a daemonless, Docker-compatible container runtime.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:]))
}
