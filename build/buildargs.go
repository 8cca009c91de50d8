package build

import (
	"sort"
	"strings"
)

// builtinArgs are the build arguments every Dockerfile accepts without an ARG (Docker's
// predefined proxy arguments). They reach RUN but are left out of the image's history unless an
// ARG names them.
var builtinArgs = map[string]bool{
	"HTTP_PROXY": true, "http_proxy": true, "HTTPS_PROXY": true, "https_proxy": true,
	"FTP_PROXY": true, "ftp_proxy": true, "NO_PROXY": true, "no_proxy": true,
	"ALL_PROXY": true, "all_proxy": true,
}

// buildArgs tracks ARG values as Docker's classic builder does: --build-arg values, the ARGs
// before the first FROM (meta args, usable in FROM and as defaults of a stage's bare ARG), and
// the ARGs declared in the current stage (allowed), which are what RUN sees.
type buildArgs struct {
	fromOptions map[string]*string // --build-arg; nil value: KEY given without a value, unset
	meta        map[string]*string
	allowed     map[string]*string
	referenced  map[string]bool
}

func newBuildArgs(fromOptions map[string]*string) *buildArgs {
	return &buildArgs{fromOptions: fromOptions, meta: map[string]*string{}, allowed: map[string]*string{}, referenced: map[string]bool{}}
}

// forStage returns a copy with the meta args and no stage ARG declared yet.
func (b *buildArgs) forStage() *buildArgs {
	n := newBuildArgs(b.fromOptions)
	for k, v := range b.meta {
		n.meta[k] = v
	}
	for k := range b.referenced {
		n.referenced[k] = true
	}
	return n
}

// merge records the arguments other used, for the unused --build-arg warning.
func (b *buildArgs) merge(other *buildArgs) {
	for k := range other.referenced {
		b.referenced[k] = true
	}
}

func (b *buildArgs) addArg(key string, value *string) {
	b.allowed[key] = value
	b.referenced[key] = true
}

func (b *buildArgs) addMeta(key string, value *string) {
	b.meta[key] = value
}

// value is KEY's value: --build-arg first, then the declared default, then a meta arg's.
func (b *buildArgs) value(key string, declared map[string]*string) (string, bool) {
	def, exists := declared[key]
	if v, ok := b.fromOptions[key]; ok && v != nil {
		return *v, true
	}
	if def == nil {
		if v, ok := b.meta[key]; ok && v != nil {
			return *v, true
		}
		return "", false
	}
	return *def, exists
}

func (b *buildArgs) all(declared map[string]*string) map[string]string {
	out := map[string]string{}
	for k := range declared {
		if v, ok := b.value(k, declared); ok {
			out[k] = v
		}
	}
	for k := range builtinArgs {
		if v, ok := b.value(k, declared); ok {
			out[k] = v
		}
	}
	return out
}

// metaValues are the meta args' values: what FROM may use.
func (b *buildArgs) metaValues() map[string]string { return b.all(b.meta) }

// allowedValues are the values of the stage's declared ARGs and the builtin ones.
func (b *buildArgs) allowedValues() map[string]string { return b.all(b.allowed) }

// env returns the stage's arguments as KEY=VALUE, sorted, leaving out those that env sets
// (ENV wins over ARG).
func (b *buildArgs) env(env []string) []string {
	set := map[string]bool{}
	for _, e := range env {
		k, _, _ := strings.Cut(e, "=")
		set[k] = true
	}
	var out []string
	for k, v := range b.allowedValues() {
		if !set[k] {
			out = append(out, k+"="+v)
		}
	}
	sort.Strings(out)
	return out
}

// inHistory tells whether an argument appears in RUN's history entry: any but an undeclared
// builtin one.
func (b *buildArgs) inHistory(key string) bool {
	_, declared := b.allowed[key]
	return declared || !builtinArgs[key]
}

// unused lists the --build-arg names that no ARG declared, sorted.
func (b *buildArgs) unused() []string {
	var out []string
	for k := range b.fromOptions {
		if !b.referenced[k] && !builtinArgs[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
