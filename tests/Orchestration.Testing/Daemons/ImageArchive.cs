using System.Diagnostics;

namespace Orchestration.Testing.Daemons;

/// <summary>The local images' tarball (scripts/build-images.sh), built on first use when it is missing.</summary>
public static class ImageArchive
{
    private static readonly SemaphoreSlim Build = new(1, 1);

    /// <summary>The path of artifacts/images/busybox-oci.tar in this checkout, built first when it is missing.</summary>
    public static async Task<string> PathAsync()
    {
        var root = RepositoryRoot();
        var archive = System.IO.Path.Combine(root, "artifacts", "images", "busybox-oci.tar");
        await Build.WaitAsync();
        try
        {
            if (!File.Exists(archive))
            {
                using var process = Process.Start(new ProcessStartInfo(System.IO.Path.Combine(root, "scripts", "build-images.sh"))
                {
                    WorkingDirectory = root,
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                }) ?? throw new InvalidOperationException("scripts/build-images.sh did not start");
                var output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
                await process.WaitForExitAsync();
                if (process.ExitCode != 0)
                {
                    throw new InvalidOperationException($"scripts/build-images.sh failed ({process.ExitCode}): {output}");
                }
            }
        }
        finally
        {
            Build.Release();
        }

        return archive;
    }

    // The tests run from bin/<config>/<tfm>; the repository is the first directory up holding the solution.
    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(directory.FullName, "Orchestration.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No Orchestration.sln above {AppContext.BaseDirectory}: cannot find artifacts/images/busybox-oci.tar");
    }
}
