using System.Reflection;
using Orchestration.TestKit.Conformance;

namespace Orchestration.E2E.Tests;

/// <summary>
/// The conformance kits as a third party uses them: <c>samples/ProviderTests</c>, a standalone test
/// project that references <c>Orchestration.TestKit</c> by package, restored from the packages the
/// test command packed and run with <c>dotnet test</c>.
/// </summary>
[Trait("Category", "E2E")]
public sealed class InstalledPackagesTests
{
    [Fact]
    public async Task A_third_partys_test_project_runs_the_conformance_kits_from_the_packed_TestKit_package()
    {
        var version = Artifacts.PackedVersion("Orchestration.TestKit");
        var root = Directory.CreateTempSubdirectory("orch-kit-").FullName;
        try
        {
            var project = Path.Combine(root, "ProviderTests");
            var source = Path.Combine(Artifacts.RepositoryRoot(), "samples", "ProviderTests");
            Directory.CreateDirectory(project);
            foreach (var file in Directory.GetFiles(source))
            {
                File.Copy(file, Path.Combine(project, Path.GetFileName(file)));
            }

            await Artifacts.WriteNuGetConfigAsync(project, withNuGetOrg: true);
            var run = await Artifacts.DotnetAsync(project, Path.Combine(root, "nuget"), TimeSpan.FromMinutes(8), "test", $"-p:OrchestrationVersion={version}", "-nologo", "--logger", "console;verbosity=minimal");
            run.ExitCode.Should().Be(0, run.ToString());
            var summary = System.Text.RegularExpressions.Regex.Match(run.Stdout, @"Passed!\s+-\s+Failed:\s+0,\s+Passed:\s+(\d+)");
            summary.Success.Should().BeTrue(run.ToString());
            int.Parse(summary.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)
                .Should().Be(TestsIn(typeof(StateStoreConformanceTests)) + TestsIn(typeof(NodeRuntimeConformanceTests)), "every test of the store and runtime kits runs against the providers");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>The test cases a kit declares: each fact, and each data row of a theory.</summary>
    private static int TestsIn(Type kit) => kit.GetMethods(BindingFlags.Public | BindingFlags.Instance)
        .Sum(m => m.GetCustomAttribute<TheoryAttribute>() is not null ? m.GetCustomAttributes<InlineDataAttribute>().Count() : m.GetCustomAttribute<FactAttribute>() is not null ? 1 : 0);
}
