using System.Diagnostics;
using Orchestration.Fuzzing;
using SharpFuzz;

// orch-fuzz instrument DLL...        adds afl's coverage instrumentation to the project's assemblies (in place)
// orch-fuzz afl TARGET               the program afl-fuzz runs: reads inputs from afl's fork server
// orch-fuzz replay TARGET PATH...    runs files (or every file in directories) through a target in process, naming each finding
//                                    (ORCH_FUZZ_VERBOSE=1: with its stack); use the build that is not instrumented
// orch-fuzz targets                  lists the targets
switch (args)
{
    case ["targets"]:
        foreach (var name in FuzzTargets.All.Keys)
        {
            Console.WriteLine(name);
        }

        return 0;
    case ["instrument", .. var assemblies] when assemblies.Length > 0:
        foreach (var assembly in assemblies)
        {
            // Only the project's own code gets coverage: the libraries under it are trusted to be fuzzed upstream.
            var types = Fuzzer.Instrument(assembly, type => type.StartsWith("Orchestration.", StringComparison.Ordinal), SharpFuzz.Options.Value).Count();
            Console.WriteLine($"instrumented {Path.GetFileName(assembly)}: {types} types");
        }

        return 0;
    case ["afl", var target] when FuzzTargets.All.TryGetValue(target, out var run):
        Fuzzer.Run(stream =>
        {
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            _ = run(buffer.ToArray());
        });
        return 0;
    case ["replay", var target, .. var paths] when FuzzTargets.All.TryGetValue(target, out var run) && paths.Length > 0:
        var files = paths.SelectMany(p => Directory.Exists(p) ? Directory.GetFiles(p, "*", SearchOption.AllDirectories) : [p]).Order(StringComparer.Ordinal).ToList();
        var (findings, accepted) = (0, 0);
        var watch = Stopwatch.StartNew();
        foreach (var file in files)
        {
            try
            {
                accepted += run(File.ReadAllBytes(file)) ? 1 : 0;
            }
            catch (Exception ex)
            {
                findings++;
                // ORCH_FUZZ_VERBOSE=1 prints where it was thrown.
                Console.WriteLine(Environment.GetEnvironmentVariable("ORCH_FUZZ_VERBOSE") == "1" ? $"{file}: {ex}" : $"{file}: {ex.GetType().Name}: {ex.Message.Split('\n')[0]}");
            }
        }

        Console.WriteLine($"{target}: {files.Count} inputs, {accepted} accepted, {findings} findings, {files.Count / Math.Max(watch.Elapsed.TotalSeconds, 1e-3):F0} inputs/s");
        return findings == 0 ? 0 : 1;
    default:
        Console.Error.WriteLine($"usage: orch-fuzz targets | instrument DLL... | afl TARGET | replay TARGET PATH...   (targets: {string.Join(", ", FuzzTargets.All.Keys)})");
        return 2;
}
