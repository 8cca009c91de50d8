package volume

import (
	"errors"
	"fmt"
	"regexp"
	"sync"
)

// DefaultDriver is the only volume driver berth has, as Docker's built-in one.
const DefaultDriver = "local"

// AnonymousLabel marks a volume created without a name (Docker's label of the same name); prune
// without --all removes only these.
const AnonymousLabel = "com.docker.volume.anonymous"

// RestrictedNameChars is the pattern volume names must follow (Docker's wording).
const RestrictedNameChars = `[a-zA-Z0-9][a-zA-Z0-9_.-]`

// nameRegexp is compiled on first use: every berth process (each monitor and container init
// too) would otherwise pay for it at start.
var nameRegexp = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^` + RestrictedNameChars + `+$`) })

// ValidateName checks a volume name with Docker's local driver's rule and wording. A valid name
// never contains "/" and never starts with ".", so it cannot escape volumes/.
func ValidateName(name string) error {
	if len(name) == 1 {
		return errors.New("volume name is too short, names should be at least two alphanumeric characters")
	}
	if !nameRegexp().MatchString(name) {
		return fmt.Errorf("%q includes invalid characters for a local volume name, only %q are allowed. If you intended to pass a host directory, use absolute path", name, RestrictedNameChars)
	}
	return nil
}
