namespace Orchestration.NodeAgent;

/// <summary>
/// kubelet's check of a hostPath volume's <c>type</c>: <c>DirectoryOrCreate</c> and
/// <c>FileOrCreate</c> create what is missing (a 0755 directory with its parents; a 0644 file whose
/// directory must exist), <c>Directory</c> and <c>File</c> require it, and no type checks nothing.
/// <c>Socket</c>, <c>CharDevice</c> and <c>BlockDevice</c> are only checked to exist (.NET does not
/// tell those file types apart).
/// </summary>
internal static class HostPathType
{
    private const UnixFileMode DirectoryMode = (UnixFileMode)493; // 0755
    private const UnixFileMode FileMode = (UnixFileMode)420; // 0644

    /// <summary>Checks (and for the ...OrCreate types makes) <paramref name="path"/>.</summary>
    /// <exception cref="ContainerConfigException">The path is not what the type asks for; the message is kubelet's.</exception>
    public static void Check(string path, string? type)
    {
        var isDirectory = Directory.Exists(path);
        var exists = isDirectory || File.Exists(path);
        switch (type ?? "")
        {
            case "":
                return;
            case "DirectoryOrCreate" when !exists:
                Directory.CreateDirectory(path);
                if (!OperatingSystem.IsWindows())
                {
                    File.SetUnixFileMode(path, DirectoryMode);
                }

                return;
            case "DirectoryOrCreate" or "Directory":
                Require(isDirectory, $"hostPath type check failed: {path} is not a directory");
                return;
            case "FileOrCreate" when !exists:
                // As kubelet: the file, not its parent directories, is created.
                if (!Directory.Exists(Path.GetDirectoryName(path)))
                {
                    throw new ContainerConfigException($"open {path}: no such file or directory");
                }

                using (File.Create(path))
                {
                }

                if (!OperatingSystem.IsWindows())
                {
                    File.SetUnixFileMode(path, FileMode);
                }

                return;
            case "FileOrCreate" or "File":
                Require(exists && !isDirectory, $"hostPath type check failed: {path} is not a file");
                return;
            case "Socket":
                Require(exists && !isDirectory, $"hostPath type check failed: {path} is not a socket file");
                return;
            case "CharDevice":
                Require(exists && !isDirectory, $"hostPath type check failed: {path} is not a character device");
                return;
            case "BlockDevice":
                Require(exists && !isDirectory, $"hostPath type check failed: {path} is not a block device");
                return;
            default:
                throw new ContainerConfigException($"invalid HostPathType {type}");
        }
    }

    private static void Require(bool holds, string message)
    {
        if (!holds)
        {
            throw new ContainerConfigException(message);
        }
    }
}
