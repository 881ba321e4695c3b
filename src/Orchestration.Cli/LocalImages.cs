namespace Orchestration.Cli;

/// <summary>Where a real node finds its images: there is no registry, so a tarball is imported.</summary>
internal static class LocalImages
{
    /// <summary>The image tarball scripts/build-images.sh writes, found from where orch runs (the checkout's artifacts/images), or null.</summary>
    public static string? DefaultArchive()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "artifacts", "images", "busybox-oci.tar");
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        return null;
    }
}
