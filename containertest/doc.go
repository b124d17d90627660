// Package containertest runs the App as its container image: one development store container
// and two App containers sharing it, driven through the lifecycle hooks and webhooks against
// the loopback fakes of Zenvia Sales and 7Targets, with one App container killed mid-stream.
//
// Those tests need a Docker daemon and sit behind the build tag "container":
//
//	go test -tags container -count=1 ./containertest/
//
// TestMain builds the images the offline way (docker/build-offline.sh: binaries compiled on
// this machine, copied onto scratch), so no image is pulled, and runs testcontainers without
// its reaper (TESTCONTAINERS_RYUK_DISABLED=true unless set): the tests remove their own
// containers. Containers use host networking, each on its own loopback port, so they reach the
// fakes the test process serves on 127.0.0.1.
//
// Without the tag, TestRuntimeStagesMatch checks that the two Dockerfiles of the App build one
// image: the same runtime stage, and no pulled image on the offline path.
package containertest
