
namespace Orchestration.Runtime.Linux.Daemons;

/// <summary>The data directory of a node's daemon: who holds it, what it records, what is mounted under it.</summary>
public static class DaemonDirectory
{
    /// <summary>
    /// Takes an advisory lock on <paramref name="lockFile"/> in the directory (flock, released by the
    /// kernel however the holder dies): two hosts on one directory would adopt, stop and clean up each
    /// other's daemon. Dispose the stream to let go.
    /// </summary>
    /// <exception cref="InvalidOperationException">Another process holds it.</exception>
    public static FileStream Lock(string directory, string lockFile, string daemon)
    {
        var path = Path.Combine(directory, lockFile);
        try
        {
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException ex)
        {
            throw new InvalidOperationException($"Another process runs the {daemon} of {directory} (it holds {path}). Stop it first, or give this one a data directory of its own.", ex);
        }
    }

    /// <summary>Writes through a temporary file and a rename, so a reader never sees half a record.</summary>
    public static void WriteAtomically(string path, string content)
    {
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, content);
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>The file's content without surrounding whitespace (a record is one line), or null when it is missing or empty.</summary>
    public static string? ReadLine(string path)
    {
        try
        {
            var text = File.ReadAllText(path).Trim();
            return text.Length == 0 ? null : text;
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    /// <summary>
    /// Lazily unmounts everything mounted under the directory, deepest first: overlay, shm and netns
    /// mounts a daemon leaves would make deleting it fail, or reach into a container's files.
    /// </summary>
    public static async Task UnmountUnderAsync(string directory, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(directory);
        var prefix = directory.TrimEnd('/') + "/";
        var mountPoints = (await File.ReadAllLinesAsync("/proc/self/mountinfo", cancellationToken).ConfigureAwait(false))
            .Select(line => line.Split(' ')[4].Replace("\\040", " ", StringComparison.Ordinal))
            .Where(point => point.StartsWith(prefix, StringComparison.Ordinal))
            .OrderByDescending(point => point.Length)
            .ToList();
        foreach (var point in mountPoints)
        {
            await ProcessRunner.RunAsync("umount", ["-l", point], cancellationToken).ConfigureAwait(false);
        }
    }
}
