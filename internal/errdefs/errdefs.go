// Package errdefs holds the sentinel errors that the CLI maps to Docker's messages and exit codes.
package errdefs

import "errors"

var (
	// ErrNotFound means the named object (image, container, volume, network) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the request clashes with current state (name in use, container running).
	ErrConflict = errors.New("conflict")
	// ErrInvalid means the user's input is malformed.
	ErrInvalid = errors.New("invalid argument")
	// ErrCannotInvoke means the container's command exists but cannot be run (exit 126).
	ErrCannotInvoke = errors.New("cannot invoke command")
	// ErrCommandNotFound means the container's command was not found (exit 127).
	ErrCommandNotFound = errors.New("command not found")
)

// Error wraps a sentinel kind around a user-facing message: errors.Is(e, kind) holds and
// e.Error() is exactly msg, so the CLI can print it unchanged.
type Error struct {
	Kind error
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Unwrap returns the kind so errors.Is works.
func (e *Error) Unwrap() error { return e.Kind }

// NotFound returns an ErrNotFound error whose text is msg.
func NotFound(msg string) error { return &Error{Kind: ErrNotFound, Msg: msg} }

// Conflict returns an ErrConflict error whose text is msg.
func Conflict(msg string) error { return &Error{Kind: ErrConflict, Msg: msg} }

// Invalid returns an ErrInvalid error whose text is msg.
func Invalid(msg string) error { return &Error{Kind: ErrInvalid, Msg: msg} }
