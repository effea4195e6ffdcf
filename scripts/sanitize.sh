#!/usr/bin/env bash
# Builds the addon with a sanitizer, in a scratch copy of this working tree, and runs the
# test files against it: the check that native code never reads or writes out of bounds
# (address) or does anything undefined (undefined), whatever the tests throw at it.
#
#   scripts/sanitize.sh address      # AddressSanitizer (a few minutes to build on 2 cores)
#   scripts/sanitize.sh undefined    # UndefinedBehaviorSanitizer, no recovery
#   scripts/sanitize.sh address test/attention.test.js   # only these test files
#
# The packaging, types and docs tests are left out: they build or load other binaries.
set -euo pipefail

kind="${1:-address}"
shift || true
case "$kind" in
  address) flags="-fsanitize=address -fno-omit-frame-pointer"; runtime=libasan.so
    export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}" ;;
  undefined) flags="-fsanitize=undefined -fno-sanitize-recover=undefined -fno-sanitize=vptr"; runtime=libubsan.so
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" ;;
  *) echo "usage: scripts/sanitize.sh address|undefined [test files…]" >&2; exit 2 ;;
esac

root="$(cd "$(dirname "$0")/.." && pwd)"
[ -d "$root/node_modules" ] || { echo "run npm ci first" >&2; exit 2; }
work="${FOVEAL_SANITIZE_DIR:-$(mktemp -d)}"
mkdir -p "$work"
echo "sanitize: building with $flags in $work"

# The tracked and untracked-but-not-ignored files, as they are in the working tree.
(cd "$root" && git ls-files -z --cached --others --exclude-standard) |
  (cd "$root" && xargs -0 cp --parents -t "$work" 2>/dev/null || true)
ln -sfn "$root/node_modules" "$work/node_modules"

cd "$work"
npx tsc -p tsconfig.json
FOVEAL_SKIP_CUDA=1 JOBS=max CXXFLAGS="$flags" LDFLAGS="$flags" npm run build:native >build.log 2>&1 ||
  { tail -20 build.log; exit 1; }

if [ "$#" -gt 0 ]; then files=("$@"); else
  mapfile -t files < <(ls test/*.test.js | grep -vE 'packaging|types|docs')
fi
LD_PRELOAD="$(gcc -print-file-name="$runtime")" npx ava --timeout=10m "${files[@]}"
