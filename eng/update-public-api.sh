#!/usr/bin/env bash
# Regenerates each library's public API baseline (src/*/PublicAPI.Unshipped.txt) from the code, for a change to the
# public surface made on purpose: review `git diff -- '*PublicAPI*'` afterwards, it is the API change.
# How: the baseline is emptied, the library is built, and every symbol the analyzer reports as undeclared (RS0016,
# whose message carries the symbol in the baseline's own format) is written back, sorted. PublicAPI.Shipped.txt
# (what a release froze) is left alone; symbols it already declares are not repeated.
set -euo pipefail
cd "$(dirname "$0")/.."
for project in ${KD_PROJECTS:-src/*/*.csproj}; do
  dir=$(dirname "$project")
  [ -f "$dir/PublicAPI.Unshipped.txt" ] || continue
  printf '#nullable enable\n' > "$dir/PublicAPI.Unshipped.txt"
  log=$(mktemp)
  dotnet build "$project" -c Release --no-incremental -p:TreatWarningsAsErrors=false -v:q -nologo > "$log" 2>&1 || true
  # Only this project's diagnostics: a build of a library also reports those of the libraries it references.
  grep -F "[$(pwd)/$project]" "$log" | grep -o "RS0016: Symbol '.*' is not part of the declared public API" |
    sed -e "s/^RS0016: Symbol '//" -e "s/' is not part of the declared public API$//" |
    sort -u >> "$dir/PublicAPI.Unshipped.txt" || true
  rm -f "$log"
  echo "$dir: $(($(wc -l < "$dir/PublicAPI.Unshipped.txt") - 1)) symbols"
done
