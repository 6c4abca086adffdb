#!/bin/bash -eu
# .clusterfuzzlite/build.sh - ClusterFuzzLite's build step: the same script
# OSS-Fuzz runs (fuzz/oss-fuzz/build.sh), from the checkout in $SRC/hakmem.
exec "$SRC/hakmem/fuzz/oss-fuzz/build.sh"
