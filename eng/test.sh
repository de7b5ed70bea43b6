#!/usr/bin/env bash
# The whole test suite, as a newcomer runs it on a fresh Debian 12 machine:
#   1. installs the Fashion-MNIST data (Debian package dataset-fashion-mnist) and the King James Bible text
#      (bible-kjv-text, read through its bible program) when they are missing
#      (needs root or sudo; the data tests fail with a clear message, never skip, without it), and redis-server for the
#      kd generate Redis cache tests (started by the tests themselves on loopback);
#   2. builds the solution in Release (warnings are errors) and runs every test project;
#   3. packs the libraries and builds and runs an application that uses them as NuGet packages
#      (eng/package-check.sh: the package promise), counted as one test;
#   4. ends with one summary line: "Tests: N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."

data_dir="${KD_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}"
if [ ! -f "$data_dir/t10k-labels-idx1-ubyte.gz" ] && [ ! -f "$data_dir/t10k-labels-idx1-ubyte" ]; then
  echo "Fashion-MNIST not found in $data_dir: installing Debian package dataset-fashion-mnist"
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq dataset-fashion-mnist
fi

# The language-model tests read a small slice of the King James Bible (public domain) from Debian's bible-kjv-text.
if [ ! -f "${KD_KJV_TEXT:-/nonexistent}" ] && [ ! -x /usr/bin/bible ]; then
  echo "King James Bible text not found: installing Debian package bible-kjv-text"
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq bible-kjv-text bible-kjv
fi

# The Redis cache tests of kd generate start a real redis-server (Debian package redis-server) on a free loopback
# port, one per test, and stop it afterwards; nothing needs to be running beforehand.
if ! command -v redis-server >/dev/null 2>&1; then
  echo "redis-server not found: installing Debian package redis-server"
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq redis-server
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log=$(mktemp)
trap 'rm -f "$log"' EXIT
dotnet build KnowledgeDistillation.sln -c Release
status=0
dotnet test KnowledgeDistillation.sln -c Release --no-build "$@" 2>&1 | tee "$log" || status=$?

# The package promise: pack the libraries (package validation on) into a temporary folder and run a consumer
# application that references them by PackageReference (about 15 s). One test in the summary; a failure fails the run.
package_passed=1
if ! bash eng/package-check.sh; then
  package_passed=0
  status=1
  echo "Package check FAILED: the libraries do not pack, or an application cannot use them as packages (see above)." >&2
fi

# One closing line summed over the test assemblies ("Passed!  - Failed: 0, Passed: 19, Skipped: 0, ...")
# and the package check.
awk -v package_passed="$package_passed" '/(Passed|Failed)! +- Failed:/ {
       gsub(/,/, "");
       for (i = 1; i <= NF; i++) {
         if ($i == "Failed:") f += $(i+1);
         if ($i == "Passed:") p += $(i+1);
         if ($i == "Skipped:") s += $(i+1);
       }
       n++
     }
     END {
       if (n == 0) { print "Tests: 0 passed, 0 failed (no test assembly reported a result)"; exit 1 }
       if (package_passed) p++; else f++
       printf "Tests: %d passed, %d failed, %d skipped\n", p, f, s
     }' "$log" || status=1
exit $status
