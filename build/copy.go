package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/berth-project/berth/build/dockerfile/instructions"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/storage"
	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// copyRequest is one COPY or ADD.
type copyRequest struct {
	name  string // "COPY" or "ADD"
	sd    instructions.SourcesAndDest
	chown string
	from  string // COPY --from: a stage name or index, or an image
	add   bool   // ADD: local archives are unpacked, URLs downloaded
}

// source is one resolved source of a COPY or ADD.
type source struct {
	root     string // the folder the source is inside
	rel      string // its path inside root
	full     string // its host path, symlinks resolved inside root
	dir      bool
	download bool              // fetched from a URL: never unpacked
	filter   func(string) bool // rel paths to leave out (.dockerignore); nil: none
	hash     hash.Hash
}

func secureJoin(root, rel string) (string, error) { return securejoin.SecureJoin(root, rel) }

// copy runs COPY or ADD: the sources are copied into a scratch overlay of st's image and the
// layer it gets is committed. As Docker's classic builder, no container is involved.
func (bd *build) copy(ctx context.Context, st *stageState, req copyRequest) (err error) {
	if len(req.sd.SourceContents) > 0 {
		return errdefs.Invalid(req.name + " with a here-document requires BuildKit")
	}
	tmpRoot := filepath.Join(bd.b.Images.Storage().Root(), "tmp")
	if err := os.MkdirAll(tmpRoot, 0o700); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(tmpRoot, "build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	root, filter, release, err := bd.copyRoot(ctx, req, tmp)
	if err != nil {
		return fmt.Errorf("invalid from flag value %s: %w", req.from, err)
	}
	defer release()
	var sources []*source
	for _, s := range req.sd.SourcePaths {
		var got []*source
		if isURL(s) {
			if !req.add {
				return fmt.Errorf("%s failed: source can't be a URL for COPY", req.name)
			}
			got, err = download(ctx, s, tmp, strings.HasSuffix(req.sd.DestPath, "/"))
		} else {
			got, err = findSources(root, s, filter, req.from != "")
		}
		if err != nil {
			return fmt.Errorf("%s failed: %w", req.name, err)
		}
		sources = append(sources, got...)
	}
	if len(sources) == 0 {
		return fmt.Errorf("%s failed: no source files were specified", req.name)
	}
	if len(sources) > 1 && !strings.HasSuffix(req.sd.DestPath, "/") {
		return errdefs.Invalid(fmt.Sprintf("When using %s with more than one source file, the destination must be a directory and end with a /", req.name))
	}
	dest := req.sd.DestPath
	if !path.IsAbs(dest) {
		slash := strings.HasSuffix(dest, "/")
		dest = path.Join("/", st.cfg.WorkingDir, dest)
		if slash {
			dest += "/"
		}
	}
	layer := filepath.Join(tmp, "layer")
	err = bd.inOverlay(st, layer, func(merged string) error {
		owner := &identity{}
		if req.chown != "" {
			if owner, err = parseChown(merged, req.chown); err != nil {
				return fmt.Errorf("unable to convert uid/gid chown string to host mapping: %w", err)
			}
		} else if req.from != "" {
			owner = nil // COPY --from keeps the files' owners
		}
		for _, s := range sources {
			if err := copySource(merged, dest, s, owner, req.add && !s.download); err != nil {
				return fmt.Errorf("failed to copy files: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	chown := ""
	if req.chown != "" {
		chown = "--chown=" + req.chown + " "
	}
	comment := fmt.Sprintf("#(nop) %s %s%s in %s ", req.name, chown, sourcesHash(sources), dest)
	createdBy := strings.Join(append(shellOf(st.cfg), comment), " ")
	// The hash is known once the sources are copied: the copy is thrown away on a cache hit.
	if hit, err := bd.probeCache(st, createdBy); err != nil || hit {
		return err
	}
	upper := filepath.Join(layer, "upper")
	return bd.commit(ctx, st, "", createdBy, func(w io.Writer) error { return storage.Diff(upper, w) })
}

// copyRoot returns the folder COPY reads from: the context, or for --from a stage's or image's
// file system mounted read-only under tmp (release unmounts it).
func (bd *build) copyRoot(ctx context.Context, req copyRequest, tmp string) (root string, filter func(string) bool, release func(), err error) {
	noop := func() {}
	if req.from == "" {
		c := bd.opts.Context
		if c == nil {
			return "", nil, noop, errors.New("missing build context")
		}
		return c.Dir, c.Excluded, noop, nil
	}
	st, err := bd.stageRef(req.from)
	if err != nil {
		return "", nil, noop, err
	}
	from := &stageState{}
	if st != nil {
		from.image = st.image
	} else {
		img, err := bd.baseImage(ctx, req.from)
		if err != nil {
			return "", nil, noop, err
		}
		from.image = img
	}
	lowers, err := bd.lowerDirs(from)
	if err != nil {
		return "", nil, noop, err
	}
	target := filepath.Join(tmp, "from")
	if len(lowers) == 0 {
		return target, nil, noop, os.MkdirAll(target, 0o755)
	}
	if err := storage.MountOverlay(lowers, "", "", target); err != nil {
		return "", nil, noop, err
	}
	return target, nil, func() { storage.Unmount(target) }, nil
}

// findSources resolves one COPY source inside root: a path, or a pattern with wildcards that
// may match several.
func findSources(root, orig string, filter func(string) bool, fromImage bool) ([]*source, error) {
	rel := cleanRel(orig)
	if containsWildcards(rel) {
		var out []*source
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			r, err := filepath.Rel(root, p)
			if err != nil || r == "." {
				return err
			}
			if ok, _ := filepath.Match(rel, r); !ok {
				return nil
			}
			if filter != nil && filter(r) {
				return nil
			}
			s, err := statSource(root, r, filter, fromImage)
			if err != nil {
				return err
			}
			out = append(out, s)
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("no source files were specified")
		}
		return out, nil
	}
	if filter != nil && filter(rel) {
		return nil, fmt.Errorf("file not found in build context or excluded by .dockerignore: stat %s: file does not exist", rel)
	}
	s, err := statSource(root, rel, filter, fromImage)
	if err != nil {
		return nil, err
	}
	return []*source{s}, nil
}

func statSource(root, rel string, filter func(string) bool, fromImage bool) (*source, error) {
	full, err := secureJoin(root, rel)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(full)
	if errors.Is(err, fs.ErrNotExist) {
		if !fromImage {
			return nil, fmt.Errorf("file not found in build context or excluded by .dockerignore: stat %s: file does not exist", rel)
		}
		return nil, fmt.Errorf("stat %s: file does not exist", rel)
	}
	if err != nil {
		return nil, err
	}
	return &source{root: root, rel: rel, full: full, dir: fi.IsDir(), filter: filter, hash: sha256.New()}, nil
}

func containsWildcards(name string) bool {
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case '\\':
			i++
		case '*', '?', '[':
			return true
		}
	}
	return false
}

// sourcesHash is the history's name for the sources: "file:<sha256>" or "dir:<sha256>", or
// "multi:<sha256>" of several.
func sourcesHash(sources []*source) string {
	names := make([]string, len(sources))
	for i, s := range sources {
		kind := "file"
		if s.dir {
			kind = "dir"
		}
		names[i] = kind + ":" + hex.EncodeToString(s.hash.Sum(nil))
	}
	if len(names) == 1 {
		return names[0]
	}
	h := sha256.Sum256([]byte(strings.Join(names, ",")))
	return "multi:" + hex.EncodeToString(h[:])
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// download fetches ADD's URL source into tmp/download, named after the URL's last path
// element, with the server's Last-Modified time, as Docker does. It is never unpacked.
func download(ctx context.Context, rawURL, tmp string, destIsDir bool) ([]*source, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return nil, fmt.Errorf("failed to GET %s with status %s", rawURL, resp.Status)
	}
	name := ""
	if p := u.Path; p != "" && !strings.HasSuffix(p, "/") {
		name = path.Base(p)
	}
	if name == "" {
		if destIsDir {
			return nil, fmt.Errorf("cannot determine filename for source %s", rawURL)
		}
		name = "__unnamed__"
	}
	dir := filepath.Join(tmp, "download")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	full := filepath.Join(dir, name)
	f, err := os.OpenFile(full, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, h), resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", rawURL, err)
	}
	mtime := time.Time{}
	if t, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		mtime = t
	}
	if err := os.Chtimes(full, mtime, mtime); err != nil {
		return nil, err
	}
	// The content is hashed already: copying it adds nothing that would change the name.
	return []*source{{root: dir, rel: name, full: full, download: true, hash: h}}, nil
}

// sortedNames returns the names of the folder p, sorted.
func sortedNames(p string) ([]string, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	sort.Strings(names)
	return names, err
}

// lchown sets the owner of p when o says one.
func lchown(p string, o *identity) error {
	if o == nil {
		return nil
	}
	return os.Lchown(p, o.uid, o.gid)
}

// setTimes gives p (not followed) the modification time of fi.
func setTimes(p string, fi fs.FileInfo) error {
	ts := []unix.Timespec{unix.NsecToTimespec(fi.ModTime().UnixNano()), unix.NsecToTimespec(fi.ModTime().UnixNano())}
	return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
}
