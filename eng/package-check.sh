#!/usr/bin/env bash
# The package promise, tested: packs every packable project and runs an application that uses the libraries as
# NuGet packages. Run by eng/test.sh after the Release build; needs that build (the libraries are packed with
# --no-build). Standalone: `dotnet build KnowledgeDistillation.sln -c Release && bash eng/package-check.sh`.
#   1. packs the five libraries under src/ into a fresh temporary folder (package validation is on, see
#      Directory.Build.props; warnings are errors), and the kd tool into another;
#   2. copies eng/PackageConsumer (not in the solution; its own Directory.Build.props/.targets,
#      Directory.Packages.props and nuget.config, so it inherits nothing from the repository) into the temporary
#      folder, restores it by PackageReference (KnowledgeDistillation* from the packed folder only, everything else
#      from the machine's default "nuget.org" source), builds it, and checks that the packages came from this run and
#      that the libstdc++ patch step of KnowledgeDistillation.TorchSharp came from the package (buildTransitive);
#   3. runs it: dependency injection, one distillation epoch on the TorchSharp CPU backend, the student's weights
#      changed, the loss is finite ("package consumer: OK (...)").
# Last line: "Package check: passed in Ns (...)", or "Package check: FAILED at '<step>' ..." and a non-zero exit.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

now_ms() { echo $(($(date +%s%N) / 1000000)); }
since() { local ms=$(($(now_ms) - $1)); printf '%d.%d s' $((ms / 1000)) $(((ms % 1000) / 100)); }
started=$(now_ms)
step="setup"
work=$(mktemp -d "${TMPDIR:-/tmp}/kd-package-check.XXXXXX")
global_packages=""
version=""

cleanup() {
  rm -rf "$work"
  # This run's unique versions in the global packages folder (nothing else there is touched).
  if [ -n "$global_packages" ] && [ -n "$version" ]; then
    for dir in "$global_packages"/knowledgedistillation*/"$version"; do
      if [ -d "$dir" ]; then
        rm -rf "$dir"
        rmdir "$(dirname "$dir")" 2>/dev/null || true
      fi
    done
  fi
}
fail() {
  echo "Package check: FAILED at '$step' after $(since "$started")${1:+: $1}" >&2
  exit 1
}
trap cleanup EXIT
trap 'fail' ERR

# Which packages does the consumer test? Every build packs the same version (0.1.0 until a release), and NuGet's
# global packages folder (~/.nuget/packages) never re-extracts a version it already holds, so a consumer restored
# against "0.1.0" could silently test the packages of an earlier run. Restoring into a fresh packages folder
# (--packages) would avoid that, but would also extract TorchSharp and libtorch (hundreds of MB) on every run. So the
# libraries are packed under a version nobody has used before, <Version>-ci.<UTC time>.<pid>, which the consumer
# references exactly; the global folder keeps serving the third-party packages, and the cleanup above removes this
# run's KnowledgeDistillation* entries from it. (With --no-build the assemblies inside keep the build's version.)
step="version"
base_version=$(dotnet msbuild src/KnowledgeDistillation/KnowledgeDistillation.csproj -getProperty:Version -p:Configuration=Release)
version="${base_version%%-*}-ci.$(date -u +%Y%m%d%H%M%S).$$"
global_packages=$(dotnet nuget locals global-packages --list | sed -n 's/^global-packages: *//p')
global_packages="${global_packages%/}"
[ -n "$global_packages" ] || fail "could not find the global packages folder (dotnet nuget locals global-packages --list)"

# Third-party versions: the repository's pins, so that the check follows them.
pin() {
  sed -n "s|.*<PackageVersion Include=\"$1\" Version=\"\([^\"]*\)\".*|\1|p" Directory.Packages.props | head -n 1
}
libtorch_version=$(pin libtorch-cpu-linux-x64)
di_version=$(pin Microsoft.Extensions.DependencyInjection)
torchsharp_version=$(pin TorchSharp)
[ -n "$libtorch_version" ] && [ -n "$di_version" ] && [ -n "$torchsharp_version" ] ||
  fail "libtorch-cpu-linux-x64, Microsoft.Extensions.DependencyInjection or TorchSharp is not pinned in Directory.Packages.props"

# 1. Pack the libraries.
step="pack libraries"
t=$(now_ms)
feed="$work/packages"
mkdir -p "$feed"
libraries=0
tools=()
for project in src/*/*.csproj; do
  if grep -q '<PackAsTool>true</PackAsTool>' "$project"; then
    tools+=("$project")
    continue
  fi
  dotnet pack "$project" -c Release --no-build --nologo -v:q -p:Version="$version" -p:PackageOutputPath="$feed" ||
    fail "dotnet pack $project"
  libraries=$((libraries + 1))
done
[ "$libraries" -ge 5 ] || fail "expected at least 5 libraries under src/, packed $libraries"
pack_libraries_s=$(since "$t")
echo "Packed $libraries libraries as $version ($pack_libraries_s)"

# The kd tool is RID-specific (linux-x64, with libtorch and ONNX Runtime inside, about 150 MB): its pack builds and
# publishes for linux-x64, which the solution build does not. Packed under the repository's version into a folder of
# its own, only to prove that it packs; the consumer does not use it. (A unique -p:Version here would rebuild every
# library it references under that version.)
step="pack kd tool"
t=$(now_ms)
for project in ${tools[@]+"${tools[@]}"}; do
  dotnet pack "$project" -c Release --nologo -v:q -p:PackageOutputPath="$work/tool" || fail "dotnet pack $project"
done
pack_tool_s=$(since "$t")
echo "Packed ${#tools[@]} tool project(s) ($pack_tool_s)"

# 2. Restore and build the consumer outside the repository: a copy in the temporary folder, so that neither the
#    repository's MSBuild files nor its nuget.config lie above it. Its nuget.config takes the packed folder from
#    KD_LOCAL_PACKAGES.
step="consumer restore and build"
t=$(now_ms)
consumer="$work/consumer"
mkdir -p "$consumer"
cp eng/PackageConsumer/Program.cs eng/PackageConsumer/PackageConsumer.csproj eng/PackageConsumer/nuget.config \
   eng/PackageConsumer/Directory.Build.props eng/PackageConsumer/Directory.Build.targets \
   eng/PackageConsumer/Directory.Packages.props "$consumer/"
export KD_LOCAL_PACKAGES="$feed"
dotnet build "$consumer/PackageConsumer.csproj" -c Release --nologo -v:q \
  -p:KdPackageVersion="$version" -p:KdLibTorchVersion="$libtorch_version" -p:KdDependencyInjectionVersion="$di_version" ||
  fail "restore or build of eng/PackageConsumer against the packed libraries (output above)"
consumer_build_s=$(since "$t")

# The packages came from this run, and the libstdc++ patch step from the package, not from src/.
step="consumer assets"
assets="$consumer/obj/project.assets.json"
for id in KnowledgeDistillation KnowledgeDistillation.TorchSharp; do
  grep -q "\"$id/$version\"" "$assets" || fail "project.assets.json does not resolve $id $version"
done
nuget_targets="$consumer/obj/PackageConsumer.csproj.nuget.g.targets"
grep -Eq "knowledgedistillation\.torchsharp/$version/(build|buildTransitive)/KnowledgeDistillation\.TorchSharp\.targets" "$nuget_targets" ||
  fail "the consumer does not import KnowledgeDistillation.TorchSharp.targets from the package"
if grep -q "$repo/" "$nuget_targets" "$consumer/obj/PackageConsumer.csproj.nuget.g.props"; then
  fail "the consumer's build imports files from the repository ($repo)"
fi
native=$(find "$consumer/bin/Release" -name libLibTorchSharp.so -path '*linux-x64*' | head -n 1)
pristine="$global_packages/torchsharp/$torchsharp_version/runtimes/linux-x64/native/libLibTorchSharp.so"
[ -n "$native" ] || fail "libLibTorchSharp.so is not in the consumer's output"
[ -f "$pristine" ] || fail "$pristine not found (TorchSharp $torchsharp_version in the global packages folder)"
libstdcxx=""
for dir in /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu /usr/lib64 /lib64 /usr/lib /lib; do
  if [ -f "$dir/libstdc++.so.6" ]; then libstdcxx="$dir/libstdc++.so.6"; break; fi
done
if [ -n "$libstdcxx" ] && ! grep -aq 'GLIBCXX_3\.4\.32' "$libstdcxx"; then
  # An old libstdc++ (Debian 12): the package's build step must have patched the output copy, and only that copy.
  if cmp -s "$native" "$pristine"; then
    fail "$native is TorchSharp's unpatched file and $libstdcxx lacks GLIBCXX_3.4.32: the package's patch step did not run"
  fi
  patch_note="libLibTorchSharp.so patched by the package's build step"
else
  patch_note="the system libstdc++ has GLIBCXX_3.4.32, no patch needed"
fi

# 3. Run it.
step="consumer run"
t=$(now_ms)
dotnet "$consumer/bin/Release/net10.0/PackageConsumer.dll" || fail "the consumer application failed (output above)"
consumer_run_s=$(since "$t")

echo "Package check: passed in $(since "$started") (pack libraries $pack_libraries_s, pack kd tool $pack_tool_s," \
  "consumer restore+build $consumer_build_s, run $consumer_run_s; $version; $patch_note)"
