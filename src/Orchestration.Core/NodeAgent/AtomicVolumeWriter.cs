using System.Globalization;

namespace Orchestration.NodeAgent;

/// <summary>
/// Writes the files of a ConfigMap, Secret or downward API volume the way kubelet's atomic writer
/// does, so a container never sees half of an update: the files go into a new hidden directory
/// (<c>..2026_01_01_00_00_00.xxxx</c>), the <c>..data</c> link is switched to it in one rename, and
/// each visible name is a link through <c>..data</c> (<c>key → ..data/key</c>). An unchanged payload
/// is left as it is.
/// </summary>
internal static class AtomicVolumeWriter
{
    private const string DataLink = "..data";

    /// <summary>Makes <paramref name="directory"/> hold exactly <paramref name="files"/> (relative path → content and mode).</summary>
    public static void Write(string directory, IReadOnlyDictionary<string, VolumeFile> files, TimeProvider time)
    {
        Directory.CreateDirectory(directory);
        var dataLink = Path.Combine(directory, DataLink);
        var current = new FileInfo(dataLink).LinkTarget;
        if (current is not null && Holds(Path.Combine(directory, current), files))
        {
            return;
        }

        var version = $"..{time.GetUtcNow().UtcDateTime.ToString("yyyy_MM_dd_HH_mm_ss", CultureInfo.InvariantCulture)}.{Path.GetRandomFileName().Replace(".", "", StringComparison.Ordinal)}";
        var versionDirectory = Path.Combine(directory, version);
        Directory.CreateDirectory(versionDirectory);
        foreach (var (path, file) in files)
        {
            var target = Path.Combine(versionDirectory, path);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.WriteAllBytes(target, file.Content);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(target, file.Mode);
            }
        }

        // The switch: a new link renamed over the old one is atomic; readers see the old or the new set.
        // File.Replace is one rename(2) on Unix and, unlike File.Move, takes a link to a directory.
        // The first version has nothing to replace: its link is made in place.
        var temporaryLink = Path.Combine(directory, DataLink + "_tmp");
        File.Delete(temporaryLink);
        if (current is null && !Path.Exists(dataLink))
        {
            File.CreateSymbolicLink(dataLink, version);
        }
        else
        {
            File.CreateSymbolicLink(temporaryLink, version);
            File.Replace(temporaryLink, dataLink, destinationBackupFileName: null);
        }

        var visible = files.Keys.Select(TopLevel).ToHashSet(StringComparer.Ordinal);
        foreach (var name in visible)
        {
            var link = Path.Combine(directory, name);
            if (new FileInfo(link).LinkTarget is null)
            {
                File.CreateSymbolicLink(link, Path.Combine(DataLink, name));
            }
        }

        foreach (var entry in new DirectoryInfo(directory).EnumerateFileSystemInfos())
        {
            var stale = entry.Name.StartsWith("..", StringComparison.Ordinal)
                ? entry.Name != DataLink && entry.Name != version
                : !visible.Contains(entry.Name) && entry.LinkTarget is not null;
            if (!stale)
            {
                continue;
            }

            if (entry.LinkTarget is not null)
            {
                // unlink: the link goes, never what it points to.
                File.Delete(entry.FullName);
            }
            else if (entry is DirectoryInfo old)
            {
                old.Delete(recursive: true);
            }
            else
            {
                entry.Delete();
            }
        }
    }

    private static string TopLevel(string path) => path.Split('/', 2)[0];

    private static bool Holds(string versionDirectory, IReadOnlyDictionary<string, VolumeFile> files)
    {
        if (!Directory.Exists(versionDirectory))
        {
            return false;
        }

        var present = Directory.EnumerateFiles(versionDirectory, "*", SearchOption.AllDirectories).Count();
        if (present != files.Count)
        {
            return false;
        }

        foreach (var (path, file) in files)
        {
            var existing = Path.Combine(versionDirectory, path);
            if (!File.Exists(existing)
                || (!OperatingSystem.IsWindows() && File.GetUnixFileMode(existing) != file.Mode)
                || !File.ReadAllBytes(existing).AsSpan().SequenceEqual(file.Content))
            {
                return false;
            }
        }

        return true;
    }
}
