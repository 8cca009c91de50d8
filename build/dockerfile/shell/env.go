package shell

import "strings"

// EnvGetter looks up the variables an expansion may use.
type EnvGetter interface {
	// Get returns the value of key and whether it is set.
	Get(key string) (string, bool)
	// Keys returns the names of the variables, in their original order.
	Keys() []string
}

// EnvsFromSlice returns an EnvGetter over "KEY=value" entries; a later entry of a key wins.
func EnvsFromSlice(env []string) EnvGetter {
	m := make(map[string]string, len(env))
	keys := make([]string, 0, len(env))
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		keys = append(keys, k)
		m[NormalizeEnvKey(k)] = v
	}
	return &sliceEnv{values: m, keys: keys}
}

type sliceEnv struct {
	values map[string]string
	keys   []string
}

func (e *sliceEnv) Get(key string) (string, bool) {
	v, ok := e.values[NormalizeEnvKey(key)]
	return v, ok
}

func (e *sliceEnv) Keys() []string { return e.keys }

// EqualEnvKeys reports whether two variable names are the same variable. On Linux, where berth
// runs, names are case-sensitive.
func EqualEnvKeys(from, to string) bool { return from == to }

// NormalizeEnvKey returns key in the form used to compare names: key itself on Linux.
func NormalizeEnvKey(key string) string { return key }
