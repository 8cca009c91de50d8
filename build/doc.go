// Package build builds images from Dockerfiles as Docker's classic builder does: each step runs
// on the image of the step before (RUN in a container of berth's runtime, COPY and ADD in a
// scratch overlay) and commits a new image.
package build
