package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/trace"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// PullOptions tune Pull.
type PullOptions struct {
	// Platform is "os/arch[/variant]" to pick from a multi-platform image; empty means the host's.
	Platform string
	// Out receives Docker's progress lines (nil or Quiet: nothing).
	Out io.Writer
	// Quiet suppresses all progress output.
	Quiet bool
	// Terminal draws live progress bars instead of one line per event.
	Terminal bool
}

// HostPlatform is the platform images are pulled for by default.
func HostPlatform() v1.Platform {
	p := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if runtime.GOARCH == "arm" {
		p.Variant = "v7"
	}
	return p
}

// ParsePlatform parses "os/arch[/variant]"; an empty string is the host platform.
func ParsePlatform(s string) (v1.Platform, error) {
	if s == "" {
		return HostPlatform(), nil
	}
	p, err := v1.ParsePlatform(s)
	if err != nil || p.OS == "" || p.Architecture == "" {
		return v1.Platform{}, errdefs.Invalid(fmt.Sprintf("invalid platform %q: want os/arch[/variant]", s))
	}
	return *p, nil
}

// maxConfigSize bounds the config blob read into memory.
const maxConfigSize = 32 << 20

// Pull downloads ref (name[:tag] or name@digest) from its registry into the store, choosing
// the platform's image from a multi-platform index, and points the tag at it. Layers already
// stored are skipped; the others are downloaded, verified and unpacked in parallel, in one pass.
func (s *Store) Pull(ctx context.Context, ref string, opts PullOptions) (*Image, error) {
	img, err := s.pull(ctx, ref, opts)
	if errors.Is(err, errLayerGone) {
		// A concurrent rmi removed a shared layer between unpacking and recording: once more.
		img, err = s.pull(ctx, ref, opts)
	}
	if err == nil {
		s.refEvent("pull", ref, img)
	}
	return img, err
}

type puller struct {
	s      *Store
	ref    name.Reference
	client *http.Client
	rt     http.RoundTripper
}

func (s *Store) pull(ctx context.Context, ref string, opts PullOptions) (*Image, error) {
	out := opts.Out
	if out == nil || opts.Quiet {
		out = io.Discard
	}
	platform, err := ParsePlatform(opts.Platform)
	if err != nil {
		return nil, err
	}
	r, err := ParseReference(ref)
	if err != nil {
		return nil, err
	}
	insecure, err := insecureRegistry(r.Context().RegistryStr())
	if err != nil {
		return nil, err
	}
	if insecure {
		r, err = name.ParseReference(ref, name.WithDefaultRegistry(dockerHubIndex), name.Insecure)
		if err != nil {
			return nil, errdefs.Invalid(errInvalidReference)
		}
	}
	fam := familiar(r)
	p, err := newPuller(ctx, s, r)
	if err != nil {
		return nil, registryError(err, fam, insecure)
	}
	fmt.Fprintf(out, "%s: Pulling from %s\n", r.Identifier(), r.Context().RepositoryStr())

	desc, err := remote.Get(r, remote.WithContext(ctx), remote.WithTransport(p.rt))
	if err != nil {
		return nil, registryError(err, fam, insecure)
	}
	top := desc.Digest
	manifest, mt := desc.Manifest, desc.MediaType
	explicitPlatform := opts.Platform != ""
	if mt.IsIndex() {
		child, err := selectManifest(desc.Manifest, platform)
		if err != nil {
			return nil, err
		}
		cd, err := remote.Get(r.Context().Digest(child.String()), remote.WithContext(ctx), remote.WithTransport(p.rt))
		if err != nil {
			return nil, registryError(err, fam, insecure)
		}
		manifest, mt = cd.Manifest, cd.MediaType
		explicitPlatform = false // the index already said which platform it is
	}
	manifestDigest, _, err := v1.SHA256(bytes.NewReader(manifest))
	if err != nil {
		return nil, err
	}
	if !mt.IsImage() {
		return nil, fmt.Errorf("pull %s: unsupported manifest media type %q", fam, mt)
	}
	if mt == types.DockerManifestSchema1 || mt == types.DockerManifestSchema1Signed {
		return nil, fmt.Errorf("pull %s: Docker Image manifest version 2, schema 1 is not supported", fam)
	}
	m, err := v1.ParseManifest(bytes.NewReader(manifest))
	if err != nil {
		return nil, fmt.Errorf("pull %s: parse manifest: %w", fam, err)
	}

	raw, cfg, err := p.config(ctx, m.Config.Digest)
	if err != nil {
		return nil, registryError(err, fam, insecure)
	}
	if explicitPlatform && (cfg.OS != platform.OS || cfg.Architecture != platform.Architecture ||
		(platform.Variant != "" && cfg.Variant != platform.Variant)) {
		actual := v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}
		return nil, errdefs.NotFound(fmt.Sprintf("image with reference %s was found but does not match the specified platform: wanted %s, actual: %s",
			fam, platform.String(), actual.String()))
	}
	jobs, err := p.layerJobs(m, cfg)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", fam, err)
	}
	if err := s.putBlob(m.Config.Digest, raw); err != nil {
		return nil, fmt.Errorf("pull %s: config: %w", fam, err)
	}

	var todo []layerJob
	names := make([]string, len(jobs))
	sizes := make([]int64, len(jobs))
	exists := make([]bool, len(jobs))
	var records []layerRecord
	for i, j := range jobs {
		names[i], sizes[i] = j.blob.Hex, j.size
		exists[i] = s.present(j)
		if !exists[i] {
			todo = append(todo, j)
		}
		records = append(records, j.record())
	}
	var prog progress = noProgress{}
	var lp *layerProgress
	// As Docker: when the image itself is already stored, no layer lines at all.
	if out != io.Discard && !(len(todo) == 0 && s.hasImage(m.Config.Digest.String())) {
		lp = newLayerProgress(out, opts.Terminal, names, sizes, exists)
		prog = lp
	}
	trace.Mark("pull: layers start")
	err = s.storeLayers(ctx, todo, prog)
	trace.Mark("pull: layers done")
	lp.finish()
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("pull %s: %w", fam, context.Cause(ctx))
		}
		return nil, fmt.Errorf("pull %s: %w", fam, err)
	}
	if err := s.putBlob(manifestDigest, manifest); err != nil {
		return nil, fmt.Errorf("pull %s: manifest: %w", fam, err)
	}

	spec := commitSpec{ID: m.Config.Digest.String(), Layers: records, Manifest: manifestDigest.String(),
		Digests: []string{familiarRepo(r.Context()) + "@" + top.String()}, Untimed: true}
	if t, ok := r.(name.Tag); ok {
		spec.Tags = []string{familiar(t)}
	}
	upToDate, err := s.commit(&spec)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", fam, err)
	}
	trace.Mark("pull: image recorded")
	fmt.Fprintf(out, "Digest: %s\n", top)
	if upToDate && len(todo) == 0 {
		fmt.Fprintf(out, "Status: Image is up to date for %s\n", fam)
	} else {
		fmt.Fprintf(out, "Status: Downloaded newer image for %s\n", fam)
	}
	return s.Resolve(spec.ID)
}

// httpTransport is the base transport: a few idle connections per host for parallel layers.
var httpTransport = func() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = maxParallelLayers + 2
	t.DisableCompression = true
	t.ReadBufferSize = 256 << 10
	t.ResponseHeaderTimeout = 60 * time.Second
	return t
}()

func newPuller(ctx context.Context, s *Store, r name.Reference) (*puller, error) {
	reg := r.Context().Registry
	rt, err := transport.NewWithContext(ctx, reg, authFor(reg), httpTransport, []string{r.Scope(transport.PullScope)})
	if err != nil {
		return nil, err
	}
	return &puller{s: s, ref: r, rt: rt, client: &http.Client{Transport: rt}}, nil
}

// fetchBlob starts downloading blob d of the puller's repository.
func (p *puller) fetchBlob(ctx context.Context, d v1.Hash) (io.ReadCloser, error) {
	repo := p.ref.Context()
	u := url.URL{Scheme: repo.Scheme(), Host: repo.RegistryStr(), Path: fmt.Sprintf("/v2/%s/blobs/%s", repo.RepositoryStr(), d)}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		resp.Body.Close()
		return nil, err
	}
	return resp.Body, nil
}

// config downloads and verifies the image config.
func (p *puller) config(ctx context.Context, d v1.Hash) ([]byte, *v1.ConfigFile, error) {
	var raw []byte
	if rc, err := p.s.storage.OpenBlob(d); err == nil {
		raw, err = io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, nil, err
		}
	} else {
		body, err := p.fetchBlob(ctx, d)
		if err != nil {
			return nil, nil, err
		}
		raw, err = io.ReadAll(io.LimitReader(body, maxConfigSize))
		body.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("download config %s: %w", d, err)
		}
		got, _, err := v1.SHA256(bytes.NewReader(raw))
		if err != nil {
			return nil, nil, err
		}
		if got != d {
			return nil, nil, fmt.Errorf("config digest mismatch: manifest says %s, registry sent %s", d, got)
		}
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return nil, nil, fmt.Errorf("parse config %s: %w", d, err)
	}
	return raw, cfg, nil
}

// layerJobs pairs the manifest's layers with the config's diff IDs.
func (p *puller) layerJobs(m *v1.Manifest, cfg *v1.ConfigFile) ([]layerJob, error) {
	diffIDs := cfg.RootFS.DiffIDs
	if len(diffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("manifest has %d layers but the config lists %d diff IDs", len(m.Layers), len(diffIDs))
	}
	chains := chainIDs(diffIDs)
	jobs := make([]layerJob, len(m.Layers))
	for i, l := range m.Layers {
		if !l.MediaType.IsLayer() {
			return nil, fmt.Errorf("layer %d: unsupported media type %q", i, l.MediaType)
		}
		j := layerJob{index: i, blob: l.Digest, mediaType: l.MediaType, size: l.Size, diffID: diffIDs[i], chain: chains[i]}
		if i > 0 {
			j.parent = chains[i-1]
		}
		d := l.Digest
		j.open = func(ctx context.Context) (io.ReadCloser, error) { return p.fetchBlob(ctx, d) }
		jobs[i] = j
	}
	return jobs, nil
}

// selectManifest picks the image for platform from an image index.
func selectManifest(raw []byte, platform v1.Platform) (v1.Hash, error) {
	idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return v1.Hash{}, fmt.Errorf("parse manifest list: %w", err)
	}
	for _, m := range idx.Manifests {
		if m.Platform == nil || !m.MediaType.IsImage() {
			continue
		}
		if m.Platform.Satisfies(platform) {
			return m.Digest, nil
		}
	}
	return v1.Hash{}, errdefs.NotFound(fmt.Sprintf("no matching manifest for %s in the manifest list entries", platform.String()))
}

// registryError rewords a registry failure as Docker's daemon does.
func registryError(err error, fam string, plainHTTP bool) error {
	if nb := noBasicAuthError(err); nb != nil {
		return nb
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		for _, d := range terr.Errors {
			switch d.Code {
			case transport.ManifestUnknownErrorCode:
				return errdefs.NotFound(fmt.Sprintf("manifest for %s not found: manifest unknown: %s", fam, d.Message))
			case transport.NameUnknownErrorCode:
				return errdefs.NotFound(fmt.Sprintf("repository %s not found: name unknown: %s", repoOf(fam), d.Message))
			case transport.BlobUnknownErrorCode:
				return errdefs.NotFound(fmt.Sprintf("pull %s: blob not found: blob unknown: %s", fam, d.Message))
			case transport.UnauthorizedErrorCode, transport.DeniedErrorCode:
				return fmt.Errorf("pull access denied for %s, repository does not exist or may require 'docker login': %s", repoOf(fam), d.Message)
			}
		}
		switch terr.StatusCode {
		case http.StatusNotFound:
			return errdefs.NotFound(fmt.Sprintf("manifest for %s not found: manifest unknown", fam))
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("pull access denied for %s, repository does not exist or may require 'docker login'", repoOf(fam))
		}
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		var operr *net.OpError
		if errors.As(uerr.Err, &operr) && operr.Op == "dial" && plainHTTP {
			// The registry was tried over HTTPS and HTTP and both dials failed alike: report
			// the plain HTTP address, as Docker does for a loopback registry.
			return &url.Error{Op: uerr.Op, URL: strings.Replace(uerr.URL, "https://", "http://", 1), Err: uerr.Err}
		}
		return uerr
	}
	if strings.Contains(err.Error(), "digest") {
		return fmt.Errorf("pull %s: %w", fam, err)
	}
	return err
}

func repoOf(fam string) string {
	repo, _, _ := splitFamiliar(fam)
	return repo
}

// authFor returns the credentials `docker login` stored for reg, or anonymous access.
func authFor(reg name.Registry) authn.Authenticator {
	auth, err := authn.DefaultKeychain.Resolve(reg)
	if err != nil {
		return authn.Anonymous
	}
	return auth
}
