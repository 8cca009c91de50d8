// Package volume owns berth's named and anonymous volumes (volumes/<name>/_data and volume.json
// under --root), the parsing of Docker's mount syntaxes (-v, --mount, --tmpfs, --volumes-from) and
// the copy-up of image content into empty volumes.
package volume
