using System.Text;
using System.Text.Json.Nodes;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Orchestration.Client;
using Orchestration.Scheduling;

namespace Orchestration.NodeAgent;

/// <summary>
/// Puts a pod's volumes on the node's disk, laid out as kubelet lays them out under its root
/// directory (<c>pods/&lt;uid&gt;/volumes/kubernetes.io~empty-dir/&lt;name&gt;</c>): an emptyDir is a
/// directory that lives as long as the pod (so it outlives container restarts); a hostPath is the
/// node's own path after its type check; a configMap, secret or downwardAPI volume is a directory
/// of files, one per key or item, written atomically; a projected volume is one such directory over
/// several sources, a ServiceAccount token among them (asked from the API server for the pod, bound to
/// it, and asked again once 80% of its lifetime has passed, as kubelet's token manager does). The runtime then binds these paths into the
/// containers. A pod's directory goes when its sandbox is removed, and directories of pods that no
/// longer exist are swept when the agent starts. Nothing is written for a pod without volumes.
/// </summary>
internal sealed partial class PodVolumes(IClusterClient client, IServiceAccountTokenClient? tokens, string podsDirectory, ResourceAmounts allocatable, TimeProvider time, ILogger logger)
{
    // kubelet asks for a new token after 80% of its lifetime, and at least once a day.
    private static readonly TimeSpan MaxTokenAge = TimeSpan.FromHours(24);

    // When each pod's projected tokens are due to be asked for again, by pod uid.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, DateTimeOffset> _tokenRefresh = new(StringComparer.Ordinal);

    private const UnixFileMode DefaultFileMode = (UnixFileMode)420; // 0644, the API's default defaultMode
    private const UnixFileMode WorldWritable = (UnixFileMode)511; // 0777: kubelet's emptyDir

    /// <summary>The directory holding every pod's directory.</summary>
    public string PodsDirectory { get; } = podsDirectory;

    /// <summary>The directory of the pod with <paramref name="uid"/>.</summary>
    public string PodDirectory(string uid)
    {
        // A uid becomes a path: it must stay one name under the pods directory.
        if (!IsPlainName(uid))
        {
            throw new ArgumentException($"pod uid \"{uid}\" cannot name a directory", nameof(uid));
        }

        return Path.Combine(PodsDirectory, uid);
    }

    /// <summary>Sets up every volume of <paramref name="pod"/>; returns each volume's path on the node by name.</summary>
    /// <exception cref="VolumeSetUpException">A volume could not be set up; the message is kubelet's FailedMount message.</exception>
    public async Task<IReadOnlyDictionary<string, PodVolume>> SetUpAsync(V1Pod pod, CancellationToken cancellationToken)
    {
        var volumes = pod.Spec.Volumes ?? [];
        var result = new Dictionary<string, PodVolume>(StringComparer.Ordinal);
        if (volumes.Count == 0)
        {
            return result;
        }

        var sources = new ConfigMapSecretReader(client, pod.Metadata.NamespaceProperty ?? "default");
        _tokenRefresh.TryRemove(pod.Metadata.Uid, out _);
        foreach (var volume in volumes)
        {
            try
            {
                result[volume.Name] = await SetUpAsync(pod, volume, sources, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is ContainerConfigException or ClusterApiException or HttpRequestException or IOException or UnauthorizedAccessException)
            {
                throw new VolumeSetUpException(volume.Name, ex.Message);
            }
        }

        return result;
    }

    /// <summary>When the projected tokens of the pod with <paramref name="uid"/> are to be asked for again; null when it has none.</summary>
    public DateTimeOffset? TokenRefreshDue(string uid) => _tokenRefresh.TryGetValue(uid, out var due) ? due : null;

    /// <summary>Where each volume of <paramref name="pod"/> is on the node, without touching the disk (for a pod whose volumes were set up before).</summary>
    public IReadOnlyDictionary<string, PodVolume> PathsOf(V1Pod pod)
    {
        var result = new Dictionary<string, PodVolume>(StringComparer.Ordinal);
        foreach (var volume in pod.Spec.Volumes ?? [])
        {
            if (volume.HostPath is { } hostPath)
            {
                result[volume.Name] = new PodVolume(hostPath.Path, ReadOnly: false);
            }
            else if (PluginOf(volume) is { } plugin && IsPlainName(volume.Name))
            {
                result[volume.Name] = new PodVolume(Path.Combine(PodDirectory(pod.Metadata.Uid), "volumes", plugin.Directory, volume.Name), plugin.ReadOnly);
            }
        }

        return result;
    }

    /// <summary>Removes the directory of the pod with <paramref name="uid"/> and every volume in it (never a hostPath's content).</summary>
    public void Remove(string uid)
    {
        _tokenRefresh.TryRemove(uid, out _);
        var directory = PodDirectory(uid);
        try
        {
            if (Directory.Exists(directory))
            {
                // Links in it (a configMap's, or one a container made) are removed, not followed.
                Directory.Delete(directory, recursive: true);
                LogVolumesRemoved(uid);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogVolumesNotRemoved(ex, uid, directory);
        }
    }

    /// <summary>
    /// Removes the directories of pods not in <paramref name="knownUids"/> (deleted while no agent
    /// ran). The directories are listed first: a pod whose volumes were set up by then is known by
    /// the time the set is asked for.
    /// </summary>
    public void RemoveOrphans(Func<IReadOnlySet<string>> knownUids)
    {
        if (!Directory.Exists(PodsDirectory))
        {
            return;
        }

        var uids = Directory.GetDirectories(PodsDirectory).Select(Path.GetFileName).OfType<string>().Where(IsPlainName).ToList();
        if (uids.Count == 0)
        {
            return;
        }

        var known = knownUids();
        foreach (var uid in uids.Where(u => !known.Contains(u)))
        {
            Remove(uid);
        }
    }

    private async Task<PodVolume> SetUpAsync(V1Pod pod, V1Volume volume, ConfigMapSecretReader sources, CancellationToken cancellationToken)
    {
        if (volume.HostPath is { } hostPath)
        {
            HostPathType.Check(hostPath.Path, hostPath.Type);
            return new PodVolume(hostPath.Path, ReadOnly: false);
        }

        if (PluginOf(volume) is not { } plugin)
        {
            throw new ContainerConfigException($"volume type {TypeOf(volume)} is not supported by this node agent (emptyDir, hostPath, configMap, secret, downwardAPI and projected are)");
        }

        if (!IsPlainName(volume.Name))
        {
            throw new ContainerConfigException($"volume name \"{volume.Name}\" cannot name a directory");
        }

        var directory = PathsOf(pod)[volume.Name].HostPath;
        if (volume.EmptyDir is not null)
        {
            // What the containers wrote stays: the directory is only created once.
            CreateDirectory(directory, WorldWritable);
            return new PodVolume(directory, ReadOnly: false);
        }

        var files = volume switch
        {
            { ConfigMap: { } configMap } => await ConfigMapFilesAsync(configMap, sources, cancellationToken).ConfigureAwait(false),
            { Secret: { } secret } => await SecretFilesAsync(secret, sources, cancellationToken).ConfigureAwait(false),
            { DownwardAPI: { } downward } => DownwardApiFiles(pod, downward.Items, downward.DefaultMode),
            { Projected: { } projected } => await ProjectedFilesAsync(pod, projected, sources, cancellationToken).ConfigureAwait(false),
            _ => throw new InvalidOperationException($"volume {volume.Name} has no source"),
        };
        CreateDirectory(directory, WorldWritable);
        AtomicVolumeWriter.Write(directory, files, time);
        return new PodVolume(directory, ReadOnly: true);
    }

    private static async Task<IReadOnlyDictionary<string, VolumeFile>> ConfigMapFilesAsync(V1ConfigMapVolumeSource source, ConfigMapSecretReader sources, CancellationToken cancellationToken)
    {
        var configMap = await sources.ConfigMapAsync(source.Name, cancellationToken).ConfigureAwait(false);
        if (configMap is null && source.Optional != true)
        {
            throw new ContainerConfigException(ConfigMapSecretReader.ConfigMapNotFound(source.Name));
        }

        var entries = configMap is null ? [] : ConfigMapSecretReader.Entries(configMap).ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);
        return Project(entries, source.Items, source.DefaultMode, source.Optional == true, key => $"configmap references non-existent config key: {key}");
    }

    private static async Task<IReadOnlyDictionary<string, VolumeFile>> SecretFilesAsync(V1SecretVolumeSource source, ConfigMapSecretReader sources, CancellationToken cancellationToken)
    {
        var secret = await sources.SecretAsync(source.SecretName, cancellationToken).ConfigureAwait(false);
        if (secret is null && source.Optional != true)
        {
            throw new ContainerConfigException(ConfigMapSecretReader.SecretNotFound(source.SecretName));
        }

        // The API carries Secret data base64-encoded; the model holds the decoded bytes, which the files get.
        var entries = (secret?.Data ?? new Dictionary<string, byte[]>()).ToDictionary(e => e.Key, e => e.Value ?? [], StringComparer.Ordinal);
        return Project(entries, source.Items, source.DefaultMode, source.Optional == true, key => $"references non-existent secret key: {key}");
    }

    /// <summary>A projected volume: every source's files in one directory, each with the volume's default mode unless its item says otherwise.</summary>
    private async Task<IReadOnlyDictionary<string, VolumeFile>> ProjectedFilesAsync(V1Pod pod, V1ProjectedVolumeSource projected, ConfigMapSecretReader sources, CancellationToken cancellationToken)
    {
        var files = new Dictionary<string, VolumeFile>(StringComparer.Ordinal);
        foreach (var source in projected.Sources ?? [])
        {
            IReadOnlyDictionary<string, VolumeFile> part = source switch
            {
                { ConfigMap: { } map } => await ConfigMapFilesAsync(new V1ConfigMapVolumeSource { Name = map.Name, Items = map.Items, Optional = map.Optional, DefaultMode = projected.DefaultMode }, sources, cancellationToken).ConfigureAwait(false),
                { Secret: { } secret } => await SecretFilesAsync(new V1SecretVolumeSource { SecretName = secret.Name, Items = secret.Items, Optional = secret.Optional, DefaultMode = projected.DefaultMode }, sources, cancellationToken).ConfigureAwait(false),
                { DownwardAPI: { } downward } => DownwardApiFiles(pod, downward.Items, projected.DefaultMode),
                { ServiceAccountToken: { } token } => await TokenFileAsync(pod, token, projected.DefaultMode, cancellationToken).ConfigureAwait(false),
                _ => throw new ContainerConfigException("projected volume source is not supported by this node agent (configMap, secret, downwardAPI and serviceAccountToken are)"),
            };
            foreach (var (path, file) in part)
            {
                files[path] = file;
            }
        }

        return files;
    }

    /// <summary>A token for the pod's ServiceAccount, bound to the pod, asked from the API server.</summary>
    private async Task<IReadOnlyDictionary<string, VolumeFile>> TokenFileAsync(V1Pod pod, V1ServiceAccountTokenProjection projection, int? defaultMode, CancellationToken cancellationToken)
    {
        if (tokens is null)
        {
            throw new ContainerConfigException("this node agent cannot request ServiceAccount tokens (no token client is composed)");
        }

        var account = pod.Spec.ServiceAccountName is { Length: > 0 } named ? named : "default";
        var audiences = projection.Audience is { Length: > 0 } audience ? new[] { audience } : [];
        var token = await tokens.RequestTokenAsync(
            pod.Metadata.NamespaceProperty ?? "default",
            account,
            new ServiceAccountTokenRequest(audiences, projection.ExpirationSeconds ?? 3600, pod.Metadata.Name, pod.Metadata.Uid),
            cancellationToken).ConfigureAwait(false);
        var now = time.GetUtcNow();
        var refresh = now + TimeSpan.FromTicks(Math.Min(MaxTokenAge.Ticks, (long)((token.ExpirationTimestamp - now).Ticks * 0.8)));
        _tokenRefresh.AddOrUpdate(pod.Metadata.Uid, refresh, (_, earlier) => earlier < refresh ? earlier : refresh);
        return new Dictionary<string, VolumeFile>(StringComparer.Ordinal)
        {
            [CheckedPath(projection.Path)] = new VolumeFile(Encoding.UTF8.GetBytes(token.Token), ModeOf(null, defaultMode)),
        };
    }

    private IReadOnlyDictionary<string, VolumeFile> DownwardApiFiles(V1Pod pod, IList<V1DownwardAPIVolumeFile>? items, int? defaultMode)
    {
        var files = new Dictionary<string, VolumeFile>(StringComparer.Ordinal);
        foreach (var item in items ?? [])
        {
            string value;
            if (item.FieldRef is { } field)
            {
                value = DownwardApi.PodField(pod, field.FieldPath, "", () => "");
            }
            else if (item.ResourceFieldRef is { } resource)
            {
                var container = pod.Spec.Containers?.FirstOrDefault(c => c.Name == resource.ContainerName)
                    ?? throw new ContainerConfigException($"container {resource.ContainerName} not found in pod {pod.Metadata.Name}");
                value = DownwardApi.ContainerResource(resource, container, allocatable);
            }
            else
            {
                continue;
            }

            files[CheckedPath(item.Path)] = new VolumeFile(Encoding.UTF8.GetBytes(value), ModeOf(item.Mode, defaultMode));
        }

        return files;
    }

    /// <summary>kubelet's payload: every key under its own name, or only the listed items under their paths.</summary>
    private static Dictionary<string, VolumeFile> Project(Dictionary<string, byte[]> entries, IList<V1KeyToPath>? items, int? defaultMode, bool optional, Func<string, string> missingKey)
    {
        var files = new Dictionary<string, VolumeFile>(StringComparer.Ordinal);
        if (items is not { Count: > 0 })
        {
            foreach (var (key, content) in entries)
            {
                files[CheckedPath(key)] = new VolumeFile(content, ModeOf(null, defaultMode));
            }

            return files;
        }

        foreach (var item in items)
        {
            if (!entries.TryGetValue(item.Key, out var content))
            {
                if (optional)
                {
                    continue;
                }

                throw new ContainerConfigException(missingKey(item.Key));
            }

            files[CheckedPath(item.Path)] = new VolumeFile(content, ModeOf(item.Mode, defaultMode));
        }

        return files;
    }

    private static UnixFileMode ModeOf(int? itemMode, int? defaultMode) =>
        itemMode is { } mode ? (UnixFileMode)(mode & 511) : defaultMode is { } fallback ? (UnixFileMode)(fallback & 511) : DefaultFileMode;

    // Validation refuses such paths already; the check keeps a file from landing outside its volume all the same.
    private static string CheckedPath(string path)
    {
        if (string.IsNullOrEmpty(path) || path.StartsWith('/') || path.Split('/').Any(part => part is ".." or "" || part.StartsWith("..", StringComparison.Ordinal)))
        {
            throw new ContainerConfigException($"invalid path \"{path}\": must be relative, without '..' or empty parts");
        }

        return path;
    }

    private static void CreateDirectory(string directory, UnixFileMode mode)
    {
        if (Directory.Exists(directory))
        {
            return;
        }

        Directory.CreateDirectory(directory);
        if (!OperatingSystem.IsWindows())
        {
            // Not through CreateDirectory's mode, which the umask would narrow.
            File.SetUnixFileMode(directory, mode);
        }
    }

    private static (string Directory, bool ReadOnly)? PluginOf(V1Volume volume) => volume switch
    {
        // configMap, secret, downwardAPI and projected volumes are always mounted read-only, as kubelet's plugins ask.
        { EmptyDir: not null } => ("kubernetes.io~empty-dir", false),
        { ConfigMap: not null } => ("kubernetes.io~configmap", true),
        { Secret: not null } => ("kubernetes.io~secret", true),
        { DownwardAPI: not null } => ("kubernetes.io~downward-api", true),
        { Projected: not null } => ("kubernetes.io~projected", true),
        _ => null,
    };

    // The source's field name as the manifest spells it (persistentVolumeClaim, projected, ...).
    private static string TypeOf(V1Volume volume) =>
        JsonNode.Parse(k8s.KubernetesJson.Serialize(volume)) is JsonObject json && json.Select(p => p.Key).FirstOrDefault(k => k != "name") is { } key
            ? key
            : "(none)";

    private static bool IsPlainName(string name) =>
        !string.IsNullOrEmpty(name) && name is not ("." or "..") && !name.Contains('/', StringComparison.Ordinal) && !name.Contains('\0', StringComparison.Ordinal);

    [LoggerMessage(EventId = 3040, Level = LogLevel.Debug, Message = "Removed the volumes of pod {Uid}")]
    private partial void LogVolumesRemoved(string uid);

    [LoggerMessage(EventId = 3041, Level = LogLevel.Warning, Message = "Could not remove the volumes of pod {Uid} under {Directory}")]
    private partial void LogVolumesNotRemoved(Exception ex, string uid, string directory);
}
