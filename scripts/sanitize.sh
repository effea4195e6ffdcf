#!/usr/bin/env bash
# Builds the addon with a sanitizer, in a scratch copy of this working tree, and runs the
# test files against it: the check that native code never reads or writes out of bounds
# (address), leaks nothing (address, at each process's exit), or does anything undefined
# (undefined), whatever the tests throw at it.
#
#   scripts/sanitize.sh address      # AddressSanitizer + LeakSanitizer (the leak check at each exit)
#   scripts/sanitize.sh undefined    # UndefinedBehaviorSanitizer, no recovery
#   scripts/sanitize.sh all          # address and undefined in one build (+ leaks): one build, not two
#   scripts/sanitize.sh address test/attention.test.js   # only these test files
#
# Leaks: V8 leaves its heap pages' metadata behind at exit, and @resvg/resvg-js some napi
# references, so scripts/lsan.supp suppresses stacks by those frames only (V8's garbage
# collector, resvg's module); an allocation made by foveal.node that is never freed is still
# reported, and fails the run. FOVEAL_SANITIZE_LEAKS=0 turns the leak check off.
#
# FOVEAL_SANITIZE_DIR=dir keeps the scratch copy there; run again with the same dir and
# kind and only the changed native files are rebuilt (timestamps are kept by the copy).
# FOVEAL_SANITIZE_OPT=-O1 compiles faster than the addon's own -O3 (what CI uses).
#
# The packaging, types and docs tests are left out: they build or load other binaries.
set -euo pipefail

kind="${1:-address}"
shift || true
root="$(cd "$(dirname "$0")/.." && pwd)"
leaks="${FOVEAL_SANITIZE_LEAKS:-1}"
ubsan_flags="-fsanitize=undefined -fno-sanitize-recover=undefined -fno-sanitize=vptr"
case "$kind" in
  address) flags="-fsanitize=address -fno-omit-frame-pointer"; runtime=(libasan.so) ;;
  undefined) flags="$ubsan_flags"; runtime=(libubsan.so) ;;
  all) flags="-fsanitize=address $ubsan_flags -fno-omit-frame-pointer"; runtime=(libasan.so libubsan.so) ;;
  *) echo "usage: scripts/sanitize.sh address|undefined|all [test files…]" >&2; exit 2 ;;
esac
flags="$flags ${FOVEAL_SANITIZE_OPT:-}"
# abort_on_error: a finding kills the test file's process, so ava reports it as failed.
# The leak suppressions go in LSAN_OPTIONS (ASAN_OPTIONS' suppressions are ASan's own kind).
# intercept_tls_get_addr=0: gcc 12's runtime misreads glibc 2.36's dynamic TLS (foveal.node's
# thread_locals, it being dlopened), and the leak check at exit then died in about half the
# processes ("Tracer caught signal 11", a DTLS range of 0x700003cce-0xa900004dd0). With it
# off, a leak foveal makes is still reported: checked by putting back the ResultBook canary
# leak this script found (reported, with its foveal frames), 12 clean exits out of 12 after.
tls="intercept_tls_get_addr=0"
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=$leaks:$tls}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-detect_leaks=$leaks:$tls:suppressions=$root/scripts/lsan.supp:print_suppressions=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

[ -d "$root/node_modules" ] || { echo "run npm ci first" >&2; exit 2; }
preload=""
for r in "${runtime[@]}"; do
  lib="$(gcc -print-file-name="$r")"
  [ -f "$lib" ] || { echo "sanitize: $r not found (gcc's sanitizer runtimes: Debian's libasan8 and libubsan1, which gcc-12 brings)" >&2; exit 2; }
  preload="$preload${preload:+ }$lib"
done
work="${FOVEAL_SANITIZE_DIR:-$(mktemp -d)}"
mkdir -p "$work"
echo "sanitize: building with $flags in $work"

# The tracked and untracked-but-not-ignored files, as they are in the working tree, with
# their timestamps (-p), so that make rebuilds only what changed since the last run here.
(cd "$root" && git ls-files -z --cached --others --exclude-standard) |
  (cd "$root" && xargs -0 cp -p --parents -t "$work" 2>/dev/null || true)
ln -sfn "$root/node_modules" "$work/node_modules"

cd "$work"
npx tsc -p tsconfig.json
export FOVEAL_SKIP_CUDA=1 JOBS=max CXXFLAGS="$flags" LDFLAGS="$flags"
start=$SECONDS
if [ "$(cat build/sanitize-flags 2>/dev/null)" = "$flags" ] && [ -f build/Makefile ]; then
  make -C build BUILDTYPE=Release --jobs "$(nproc)" >build.log 2>&1 || { tail -20 build.log; exit 1; }
else
  rm -f build/sanitize-flags
  npm run build:native >build.log 2>&1 || { tail -20 build.log; exit 1; }
  echo "$flags" >build/sanitize-flags
fi
echo "sanitize: built in $((SECONDS - start)) s"

if [ "$#" -gt 0 ]; then files=("$@"); else
  mapfile -t files < <(ls test/*.test.js | grep -vE 'packaging|types|docs')
fi
start=$SECONDS
status=0
# Left out: the CLI's 20-epoch training run, whose 2-minute limit a sanitized build cannot
# meet (it got to epoch 8); train.test.js drives the same training loop on smaller runs.
LD_PRELOAD="$preload" npx ava --timeout=10m --match '!foveal train on 200 MNIST images*' "${files[@]}" || status=$?
echo "sanitize: tests ran in $((SECONDS - start)) s"
exit "$status"
