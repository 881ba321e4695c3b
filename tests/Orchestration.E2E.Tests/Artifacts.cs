using Orchestration.Testing.Daemons;

namespace Orchestration.E2E.Tests;

/// <summary>What the test command builds beside the checkout: the packages in <c>artifacts/packages</c>.</summary>
internal static class Artifacts
{
    /// <summary>The checkout the tests run from.</summary>
    public static string RepositoryRoot()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Orchestration.sln")))
        {
            root = root.Parent;
        }

        return root?.FullName ?? throw new InvalidOperationException("the tests run from inside the checkout");
    }

    /// <summary>Where <c>dotnet pack</c> writes the packages.</summary>
    public static string Packages => Path.Combine(RepositoryRoot(), "artifacts", "packages");

    /// <summary>The version of the newest package <paramref name="id"/> packed there; the test fails when there is none.</summary>
    public static string PackedVersion(string id)
    {
        var package = Directory.Exists(Packages) ? Directory.GetFiles(Packages, $"{id}.*.nupkg").Where(p => char.IsDigit(Path.GetFileName(p)[id.Length + 1])).OrderBy(File.GetLastWriteTimeUtc).LastOrDefault() : null;
        package.Should().NotBeNull($"the test command packs every project into {Packages} (dotnet pack Orchestration.sln)");
        return Path.GetFileNameWithoutExtension(package)![(id.Length + 1)..];
    }

    /// <summary>A nuget.config whose only sources are the packed packages and, when <paramref name="withNuGetOrg"/>, nuget.org; packages already in the machine's cache are taken from there.</summary>
    public static async Task<string> WriteNuGetConfigAsync(string directory, bool withNuGetOrg)
    {
        var fallback = Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var path = Path.Combine(directory, "nuget.config");
        await File.WriteAllTextAsync(path, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{Packages}" />
                {(withNuGetOrg ? """<add key="nuget.org" value="https://api.nuget.org/v3/index.json" />""" : "")}
              </packageSources>
              <fallbackPackageFolders><add key="machine" value="{fallback}" /></fallbackPackageFolders>
            </configuration>
            """);
        return path;
    }

    /// <summary>
    /// Runs <c>dotnet</c> in <paramref name="directory"/> with a package cache of its own under it,
    /// so a package of the same version packed earlier is never taken from the machine's cache.
    /// </summary>
    public static Task<CommandResult> DotnetAsync(string directory, string cache, TimeSpan timeout, params string[] args) =>
        DotnetCommand.RunAsync(args, timeout, directory, new Dictionary<string, string> { ["NUGET_PACKAGES"] = cache });
}
