using k8s.Models;
using Orchestration.Runtime;

namespace Orchestration.NodeAgent;

/// <summary>
/// A container's <c>volumeMounts</c> as the node paths the runtime binds: the volume's directory, or
/// a <c>subPath</c> (or <c>subPathExpr</c>, expanded with the container's environment) inside it,
/// created as a directory when missing and never outside the volume, even through links a
/// container made. A mount is read-only when it says so or its volume is (configMap, secret,
/// downwardAPI).
/// </summary>
internal static class ContainerMounts
{
    private const int MaxLinks = 40;

    /// <summary>The mounts of <paramref name="container"/>.</summary>
    /// <exception cref="ContainerConfigException">A mount names no volume of the pod, or its subPath is not usable; the message is kubelet's.</exception>
    public static IReadOnlyList<ContainerMount> For(V1Container container, IReadOnlyDictionary<string, PodVolume> volumes, IReadOnlyDictionary<string, string> environment)
    {
        var mounts = new List<ContainerMount>();
        foreach (var mount in container.VolumeMounts ?? [])
        {
            if (!volumes.TryGetValue(mount.Name, out var volume))
            {
                throw new ContainerConfigException($"cannot find volume \"{mount.Name}\" to mount into container \"{container.Name}\"");
            }

            var subPath = string.IsNullOrEmpty(mount.SubPathExpr) ? mount.SubPath : Expand(mount.SubPathExpr, environment);
            var hostPath = string.IsNullOrEmpty(subPath) ? volume.HostPath : SubPathIn(volume.HostPath, subPath);
            mounts.Add(new ContainerMount(mount.MountPath, hostPath, mount.ReadOnlyProperty == true || volume.ReadOnly));
        }

        return mounts;
    }

    /// <summary>kubelet's subPathExpr expansion: every variable it names must be set and not empty.</summary>
    private static string Expand(string expression, IReadOnlyDictionary<string, string> environment)
    {
        var missing = new SortedSet<string>(StringComparer.Ordinal);
        var expanded = VariableExpansion.Expand(expression, name =>
        {
            if (!environment.TryGetValue(name, out var value) || value.Length == 0)
            {
                missing.Add(name);
                return "";
            }

            return value;
        });
        return missing.Count > 0 ? throw new ContainerConfigException($"missing value for {string.Join(", ", missing)}") : expanded;
    }

    /// <summary>
    /// The node path of <paramref name="subPath"/> in the volume at <paramref name="root"/>, with every
    /// link resolved (the runtime would follow them) and checked to stay in the volume; a missing
    /// path is created as a directory, as kubelet does.
    /// </summary>
    public static string SubPathIn(string root, string subPath)
    {
        if (Path.IsPathRooted(subPath))
        {
            throw new ContainerConfigException($"error SubPath `{subPath}` must not be an absolute path");
        }

        if (subPath.Split('/').Contains(".."))
        {
            throw new ContainerConfigException($"unable to provision SubPath `{subPath}`: must not contain '..'");
        }

        root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));
        var current = root;
        var parts = new List<string>(subPath.Split('/', StringSplitOptions.RemoveEmptyEntries));
        var links = 0;
        var missing = false;
        for (var i = 0; i < parts.Count; i++)
        {
            var part = parts[i];
            if (part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                current = Path.GetDirectoryName(current) ?? "/";
                continue;
            }

            var next = Path.Combine(current, part);
            var target = missing ? null : new FileInfo(next).LinkTarget;
            if (target is null)
            {
                missing |= !Path.Exists(next);
                current = next;
                continue;
            }

            if (++links > MaxLinks)
            {
                throw new ContainerConfigException($"subPath `{subPath}` of volume {root}: too many levels of symbolic links");
            }

            // The link's target takes its place; the rest of the path follows it.
            var rest = parts.Skip(i + 1).ToList();
            parts = [.. target.Split('/', StringSplitOptions.RemoveEmptyEntries), .. rest];
            if (Path.IsPathRooted(target))
            {
                current = "/";
            }

            i = -1;
        }

        if (current != root && !current.StartsWith(root + "/", StringComparison.Ordinal))
        {
            throw new ContainerConfigException($"subpath \"{subPath}\" not within volume path \"{root}\"");
        }

        if (missing)
        {
            Directory.CreateDirectory(current);
        }

        return current;
    }
}
