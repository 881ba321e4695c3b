#!/usr/bin/env bash
# Fuzzes the API server's decoders (JSON, YAML, protobuf), its patch code (JSON patch, merge,
# strategic merge, apply) and the cluster DNS server's query handling: the harness
# (benchmarks/Orchestration.Fuzzing) is published, the project's assemblies get afl's coverage
# instrumentation through SharpFuzz, and afl-fuzz runs each target for FUZZ_SECONDS (default 60),
# one after the other (two cores), starting from the committed corpus. Prints, per target,
# executions, executions per second, the paths afl kept and the crashes and hangs it saved; a
# crash's input is copied to benchmarks/Orchestration.Fuzzing/findings/TARGET/ for triage (it
# becomes a regression test, then the file goes). Exits 1 when any target saved a crash.
# Usage: [FUZZ_SECONDS=600] [FUZZ_TARGETS="json dns"] scripts/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
harness=benchmarks/Orchestration.Fuzzing
bin=artifacts/fuzz/bin
command -v afl-fuzz >/dev/null || PACKAGES=afl++ scripts/install-deps.sh
rm -rf artifacts/fuzz
dotnet publish "$harness" -c Release -o "$bin" -nologo -v quiet
targets=${FUZZ_TARGETS:-$(dotnet "$bin/Orchestration.Fuzzing.dll" targets)}
dotnet "$bin/Orchestration.Fuzzing.dll" instrument "$bin"/Orchestration.{Abstractions,Core,ApiServer,Dns}.dll

# afl's checks that do not apply: a .NET program is not an instrumented ELF, and the machine's core
# pattern and CPU governor are not the harness's to change.
export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1
printf '%-22s %10s %9s %7s %8s %6s\n' target execs "execs/s" paths crashes hangs
crashed=0
for target in $targets; do
  out=artifacts/fuzz/$target
  timeout $((seconds + 120)) afl-fuzz -V "$seconds" -t 5000 -m none -i "$harness/corpus/$target" -o "$out" \
    -- dotnet "$bin/Orchestration.Fuzzing.dll" afl "$target" > "artifacts/fuzz/$target.log" 2>&1 || true
  stats=$out/default/fuzzer_stats
  if [ ! -f "$stats" ]; then
    echo "fuzz: $target did not start; see artifacts/fuzz/$target.log" >&2
    tail -20 "artifacts/fuzz/$target.log" >&2
    exit 2
  fi
  value() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats"; }
  crashes=$(value saved_crashes)
  printf '%-22s %10s %9s %7s %8s %6s\n' "$target" "$(value execs_done)" "$(value execs_per_sec)" "$(value corpus_count)" "$crashes" "$(value saved_hangs)"
  if [ "${crashes:-0}" != 0 ]; then
    crashed=1
    mkdir -p "$harness/findings/$target"
    find "$out/default/crashes" -type f -name 'id:*' -exec cp {} "$harness/findings/$target/" \;
  fi
done
echo "fuzz: ${seconds} s per target; replay a finding with: dotnet $bin/Orchestration.Fuzzing.dll replay TARGET FILE"
exit $crashed
