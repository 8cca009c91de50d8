// Package image is berth's image store: Docker-style references, the images.json index (image
// IDs, repository tags and digests), pulling from registries, and the image-side commands'
// logic (tag, remove, prune, inspect, history, save, load, import). Blobs and unpacked layers
// live in package storage.
package image
