using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;

namespace Orchestration.Runtime.Linux.Images;

/// <summary>
/// Builds the images a node needs without a registry, from the machine's busybox-static: one OCI
/// image-layout tarball whose only layer is a busybox root filesystem, holding two images over it,
/// <c>docker.io/library/busybox:latest</c> (what pods name as <c>busybox</c>) and
/// <c>orchestration.local/sandbox:1</c> (the pod sandbox, whose process sleeps so the pod's
/// namespaces outlive its containers). <c>ctr images import</c> takes it through the
/// <c>io.containerd.image.name</c> annotations, <c>docker load</c> through its Docker-style
/// <c>manifest.json</c>. Entries are sorted, owned by root and dated at the epoch, so the same
/// busybox gives the same digests on every machine (as <c>scripts/build-images.sh</c> does).
/// </summary>
public static class LocalImageArchive
{
    /// <summary>Where Debian's busybox-static installs its binary.</summary>
    public const string DefaultBusybox = "/bin/busybox";

    /// <summary>The image pods name as <c>busybox</c>.</summary>
    public const string BusyboxImage = "docker.io/library/busybox:latest";

    /// <summary>The image of pod sandboxes.</summary>
    public const string SandboxImage = "orchestration.local/sandbox:1";

    private const UnixFileMode Directory755 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
    private const UnixFileMode File644 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private const UnixFileMode Link777 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
    private const UnixFileMode Sticky1777 = UnixFileMode.StickyBit | Link777;

    /// <summary>Writes the tarball to <paramref name="outputPath"/> (replacing it in one rename) from the busybox at <paramref name="busyboxPath"/>.</summary>
    /// <exception cref="InvalidOperationException">There is no busybox there, or it does not list its applets.</exception>
    public static async Task BuildAsync(string busyboxPath, string outputPath, CancellationToken cancellationToken)
    {
        if (!File.Exists(busyboxPath))
        {
            throw new InvalidOperationException($"no busybox-static at {busyboxPath} to build the node's images from: install Debian's busybox-static (scripts/install-deps.sh) or give an image tarball");
        }

        var applets = (await ProcessRunner.RunCheckedAsync(busyboxPath, ["--list"], cancellationToken).ConfigureAwait(false))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(a => a != "busybox" && !a.Contains('/', StringComparison.Ordinal))
            .ToList();
        if (applets.Count == 0)
        {
            throw new InvalidOperationException($"{busyboxPath} --list named no applets: it is not busybox");
        }

        var layer = await LayerAsync(busyboxPath, applets, cancellationToken).ConfigureAwait(false);
        var blobs = new SortedDictionary<string, byte[]>(StringComparer.Ordinal) { [Digest(layer)] = layer };
        var busybox = Image(blobs, layer, """["sh"]""");
        var sandbox = Image(blobs, layer, """["sleep","2147483647"]""");
        var index = $$"""{"schemaVersion":2,"manifests":[{{Entry(busybox.Manifest, BusyboxImage, "latest")}},{{Entry(sandbox.Manifest, SandboxImage, "1")}}]}""";
        var dockerManifest = $$"""[{"Config":"blobs/sha256/{{busybox.Config}}","RepoTags":["busybox:latest"],"Layers":["blobs/sha256/{{Digest(layer)}}"]},{"Config":"blobs/sha256/{{sandbox.Config}}","RepoTags":["{{SandboxImage}}"],"Layers":["blobs/sha256/{{Digest(layer)}}"]}]""";

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outputPath))!);
        var temporary = outputPath + ".tmp";
        await using (var file = File.Create(temporary))
        {
            await using var tar = new TarWriter(file, TarEntryFormat.Ustar, leaveOpen: false);
            await WriteDirectoryAsync(tar, "blobs/", cancellationToken).ConfigureAwait(false);
            await WriteDirectoryAsync(tar, "blobs/sha256/", cancellationToken).ConfigureAwait(false);
            foreach (var (digest, content) in blobs)
            {
                await WriteFileAsync(tar, $"blobs/sha256/{digest}", content, File644, cancellationToken).ConfigureAwait(false);
            }

            await WriteFileAsync(tar, "index.json", Encoding.UTF8.GetBytes(index), File644, cancellationToken).ConfigureAwait(false);
            await WriteFileAsync(tar, "manifest.json", Encoding.UTF8.GetBytes(dockerManifest), File644, cancellationToken).ConfigureAwait(false);
            await WriteFileAsync(tar, "oci-layout", """{"imageLayoutVersion":"1.0.0"}"""u8.ToArray(), File644, cancellationToken).ConfigureAwait(false);
        }

        File.Move(temporary, outputPath, overwrite: true);
    }

    /// <summary>The busybox root filesystem as one uncompressed layer.</summary>
    private static async Task<byte[]> LayerAsync(string busyboxPath, IEnumerable<string> applets, CancellationToken cancellationToken)
    {
        var entries = new SortedDictionary<string, Func<TarWriter, Task>>(StringComparer.Ordinal);
        foreach (var directory in new[] { "bin/", "dev/", "etc/", "home/", "proc/", "root/", "sys/", "var/", "var/www/" })
        {
            entries[directory] = tar => WriteDirectoryAsync(tar, directory, cancellationToken);
        }

        entries["tmp/"] = tar => WriteDirectoryAsync(tar, "tmp/", cancellationToken, Sticky1777);
        var binary = await File.ReadAllBytesAsync(busyboxPath, cancellationToken).ConfigureAwait(false);
        entries["bin/busybox"] = tar => WriteFileAsync(tar, "bin/busybox", binary, Directory755, cancellationToken);
        foreach (var applet in applets)
        {
            entries[$"bin/{applet}"] = tar => tar.WriteEntryAsync(new UstarTarEntry(TarEntryType.SymbolicLink, $"bin/{applet}") { LinkName = "busybox", Mode = Link777, ModificationTime = DateTimeOffset.UnixEpoch }, cancellationToken);
        }

        entries["etc/passwd"] = tar => WriteFileAsync(tar, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"u8.ToArray(), File644, cancellationToken);
        entries["etc/group"] = tar => WriteFileAsync(tar, "etc/group", "root:x:0:\nnogroup:x:65534:\n"u8.ToArray(), File644, cancellationToken);
        entries["etc/nsswitch.conf"] = tar => WriteFileAsync(tar, "etc/nsswitch.conf", "hosts: files dns\n"u8.ToArray(), File644, cancellationToken);

        using var layer = new MemoryStream();
        await using (var tar = new TarWriter(layer, TarEntryFormat.Ustar, leaveOpen: true))
        {
            foreach (var write in entries.Values)
            {
                await write(tar).ConfigureAwait(false);
            }
        }

        return layer.ToArray();
    }

    /// <summary>Adds an image's config and manifest over <paramref name="layer"/> to <paramref name="blobs"/>.</summary>
    private static (Blob Manifest, string Config) Image(SortedDictionary<string, byte[]> blobs, byte[] layer, string command)
    {
        var layerDigest = Digest(layer);
        var config = Encoding.UTF8.GetBytes($$$"""{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":{{{command}}},"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:{{{layerDigest}}}"]}}""");
        var configDigest = Digest(config);
        blobs[configDigest] = config;
        var manifest = Encoding.UTF8.GetBytes($$"""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:{{configDigest}}","size":{{config.Length}}},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:{{layerDigest}}","size":{{layer.Length}}}]}""");
        var manifestDigest = Digest(manifest);
        blobs[manifestDigest] = manifest;
        return (new Blob(manifestDigest, manifest.Length), configDigest);
    }

    private static string Entry(Blob manifest, string name, string reference) =>
        $$$"""{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{{{manifest.Digest}}}","size":{{{manifest.Size}}},"annotations":{"io.containerd.image.name":"{{{name}}}","org.opencontainers.image.ref.name":"{{{reference}}}"}}""";

    private static string Digest(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));

    private static Task WriteDirectoryAsync(TarWriter tar, string name, CancellationToken cancellationToken, UnixFileMode mode = Directory755) =>
        tar.WriteEntryAsync(new UstarTarEntry(TarEntryType.Directory, name) { Mode = mode, ModificationTime = DateTimeOffset.UnixEpoch }, cancellationToken);

    private static async Task WriteFileAsync(TarWriter tar, string name, byte[] content, UnixFileMode mode, CancellationToken cancellationToken)
    {
        using var data = new MemoryStream(content, writable: false);
        await tar.WriteEntryAsync(new UstarTarEntry(TarEntryType.RegularFile, name) { Mode = mode, ModificationTime = DateTimeOffset.UnixEpoch, DataStream = data }, cancellationToken).ConfigureAwait(false);
    }

    private readonly record struct Blob(string Digest, long Size);
}
