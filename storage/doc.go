// Package storage keeps berth's content on disk: verified blobs by digest, unpacked layers by
// chain ID (applied safely from docker layer tars, whiteouts in overlay form), overlay mounts
// over those layers, and the reverse diff of an overlay upper dir back to a layer tar.
package storage
