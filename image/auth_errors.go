package image

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// errNoBasicAuth is distribution's client error when a registry asks for Basic auth and there
// are no credentials to send.
var errNoBasicAuth = errors.New("no basic auth credentials")

// PushError is a registry's refusal of a push. Docker's daemon reports it as the last line of the
// push stream, which docker prints as it is ("no basic auth credentials", "unauthorized:
// authentication required", "denied: requested access to the resource is denied"), without
// "Error response from daemon".
type PushError struct{ Msg string }

func (e *PushError) Error() string { return e.Msg }

// pushError words a failed push as Docker does: a refusal (401, 403) as a PushError, anything
// else as registryError.
func pushError(err error, fam string, plainHTTP bool) error {
	var terr *transport.Error
	if !errors.As(err, &terr) || (terr.StatusCode != http.StatusUnauthorized && terr.StatusCode != http.StatusForbidden) {
		return registryError(err, fam, plainHTTP)
	}
	if terr.Request != nil && needsBasicAuth(terr.Request.URL) {
		return &PushError{Msg: errNoBasicAuth.Error()}
	}
	if len(terr.Errors) > 0 {
		return &PushError{Msg: diagnostic(terr.Errors[0])}
	}
	if terr.StatusCode == http.StatusForbidden {
		return &PushError{Msg: "denied: requested access to the resource is denied"}
	}
	return &PushError{Msg: "unauthorized: authentication required"}
}

// noBasicAuthError is Docker's error for a pull refused (401) because berth had no credentials
// for a registry that asks for Basic auth: `Head "http://…/v2/app/manifests/v1": no basic auth
// credentials` (Docker's client fails before sending; its first request is the manifest's HEAD).
// It returns nil for any other error.
func noBasicAuthError(err error) error {
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusUnauthorized || terr.Request == nil || !needsBasicAuth(terr.Request.URL) {
		return nil
	}
	method := terr.Request.Method
	if strings.Contains(terr.Request.URL.Path, "/manifests/") {
		method = http.MethodHead
	}
	op := method[:1] + strings.ToLower(method[1:])
	return &url.Error{Op: op, URL: terr.Request.URL.String(), Err: errNoBasicAuth}
}

// needsBasicAuth tells whether the registry that u belongs to asks for Basic auth while no
// credentials are stored for it.
func needsBasicAuth(u *url.URL) bool {
	reg, err := name.NewRegistry(u.Host, name.WeakValidation)
	if err != nil || authFor(reg) != authn.Anonymous {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ch, err := ping(ctx, &http.Client{Transport: httpTransport}, fmt.Sprintf("%s://%s/v2/", u.Scheme, u.Host))
	return err == nil && ch.scheme == "basic"
}

// diagnostic words a registry error as Docker's registry client: "unauthorized: authentication
// required".
func diagnostic(d transport.Diagnostic) string {
	return strings.ToLower(strings.ReplaceAll(string(d.Code), "_", " ")) + ": " + d.Message
}
