// Package procrole tells which of berth's processes this one is, from its command line and
// environment, for the code that must decide before main runs (package initialisers).
package procrole

// LibcontainerInit tells whether args and the value of _LIBCONTAINER_INITPIPE are those of a
// process that libcontainer re-executed as "berth init" (a container's init, or an exec's). The
// pipe variable decides: a user may name a container "init".
func LibcontainerInit(args []string, initPipe string) bool {
	return len(args) > 1 && args[1] == "init" && initPipe != ""
}
