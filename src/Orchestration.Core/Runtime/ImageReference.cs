namespace Orchestration.Runtime;

/// <summary>
/// Image names as Docker and kubelet read them: <c>busybox</c>, <c>busybox:latest</c> and
/// <c>docker.io/library/busybox:latest</c> are one image. containerd's CRI plugin only matches full
/// references, so names are completed before they are looked up.
/// </summary>
public static class ImageReference
{
    private const string DefaultRegistry = "docker.io";

    /// <summary>
    /// The full reference: a registry (<c>docker.io</c> when the first path part does not look like a
    /// host), <c>library/</c> for Docker Hub's official images, and the tag <c>latest</c> when
    /// neither a tag nor a digest is given.
    /// </summary>
    /// <param name="image">The image as a pod names it.</param>
    /// <exception cref="ArgumentException">The name is empty.</exception>
    public static string Normalize(string image)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(image);
        var name = image.Trim();
        var slash = name.IndexOf('/', StringComparison.Ordinal);
        string registry;
        string path;

        // As Docker decides it: the first part is a registry host only if it has a dot or a port, or is localhost.
        if (slash > 0 && (name[..slash].Contains('.', StringComparison.Ordinal) || name[..slash].Contains(':', StringComparison.Ordinal) || name[..slash] == "localhost"))
        {
            registry = name[..slash];
            path = name[(slash + 1)..];
        }
        else
        {
            registry = DefaultRegistry;
            path = name;
        }

        if (registry == "index.docker.io")
        {
            registry = DefaultRegistry;
        }

        if (registry == DefaultRegistry && !path.Contains('/', StringComparison.Ordinal))
        {
            path = "library/" + path;
        }

        var lastSlash = path.LastIndexOf('/');
        var hasTag = path.IndexOf(':', lastSlash + 1) >= 0;
        var hasDigest = path.Contains('@', StringComparison.Ordinal);
        if (!hasTag && !hasDigest)
        {
            path += ":latest";
        }

        return $"{registry}/{path}";
    }
}
